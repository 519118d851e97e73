"""The openlib access token: fetched lazily, kept until shortly before it expires, refreshed once.

Concurrent callers share one refresh: a lock serialises refreshes and a generation counter
lets a caller that held a stale token (generation *g*) take the token a concurrent refresh
already produced (generation > *g*) instead of fetching yet another one.
The token value is kept out of ``repr`` so it cannot end up in a log line by accident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields

DEPARTMENT = "library"
MARGIN_S = 300.0
"""Renew this long before the upstream's expiry (at most a tenth of the lifetime)."""


@dataclass(frozen=True)
class Grant:
    """What the token endpoint answered."""

    value: str = field(repr=False)
    expires_in: float


@dataclass(frozen=True)
class Token:
    """A token in use, numbered so that callers can tell a stale one from a renewed one."""

    value: str = field(repr=False)
    generation: int


def grant(payload: object) -> Grant:
    """``{"token": "…", "expires_in": 86400, …}`` → ``Grant``."""
    f = Fields(payload, DEPARTMENT, "token")
    expires_in = f.number("expires_in")
    if expires_in <= 0:
        raise UpstreamPayloadError(DEPARTMENT, "token.expires_in: not positive")
    return Grant(f.text("token"), expires_in)


class TokenKeeper:
    """The current token, renewed by ``fetch`` when missing, expiring, or refused."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Grant]],
        *,
        clock: Callable[[], float],
        margin_s: float = MARGIN_S,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin_s = margin_s
        self._lock = asyncio.Lock()
        self._token: Token | None = None
        self._fresh_until = 0.0
        self.fetches = 0

    def _fresh(self) -> Token | None:
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        return None

    async def current(self) -> Token:
        """A token believed valid: the kept one, or a new one when it is missing or expiring."""
        return self._fresh() or await self.renew(stale=self._token)

    async def renew(self, *, stale: Token | None) -> Token:
        """A token newer than ``stale``: fetched here, or taken from a concurrent refresh."""
        seen = stale.generation if stale is not None else 0
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None and fresh.generation > seen:
                return fresh
            granted = await self._fetch()
            self.fetches += 1
            generation = (self._token.generation if self._token is not None else 0) + 1
            self._token = Token(granted.value, generation)
            margin = min(self._margin_s, granted.expires_in / 10)
            self._fresh_until = self._clock() + granted.expires_in - margin
            return self._token
