"""The lock-cloud access token: fetched lazily, renewed before expiry, renewed once when refused.

The cloud hands out an access token and a one-use refresh token. Renewal spends the refresh
token (``grant_type=refresh_token``); when the cloud refuses it (spent, expired, unknown), the
password grant starts a new pair. Concurrent callers share one renewal: a lock serialises
renewals and a generation counter lets a caller that held a stale token (generation *g*) take
the token a concurrent renewal already produced (generation > *g*) instead of fetching another.
Token values are kept out of ``repr`` so they cannot end up in a log line by accident.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.payload import Fields

DEPARTMENT = "locks"
MARGIN_S = 300.0
"""Renew this long before the cloud's expiry (at most a tenth of the lifetime)."""


@dataclass(frozen=True)
class Grant:
    """What ``/oauth2/token`` answered."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: float


@dataclass(frozen=True)
class Token:
    """A token in use, numbered so that callers can tell a stale one from a renewed one."""

    value: str = field(repr=False)
    generation: int


def grant(payload: object) -> Grant:
    """``{"access_token", "uid", "refresh_token", "expires_in"}`` → ``Grant``."""
    f = Fields(payload, DEPARTMENT, "token")
    expires_in = f.number("expires_in")
    if expires_in <= 0:
        raise UpstreamPayloadError(DEPARTMENT, "token.expires_in: not positive")
    return Grant(f.text("access_token"), f.opt_text("refresh_token") or None, expires_in)


PasswordGrant = Callable[[], Awaitable[Grant]]
RefreshGrant = Callable[[str], Awaitable[Grant]]


class TokenKeeper:
    """The current token, renewed when missing, expiring, or refused by the cloud."""

    def __init__(
        self,
        password_grant: PasswordGrant,
        refresh_grant: RefreshGrant,
        *,
        clock: Callable[[], float],
        margin_s: float = MARGIN_S,
    ) -> None:
        self._password_grant = password_grant
        self._refresh_grant = refresh_grant
        self._clock = clock
        self._margin_s = margin_s
        self._lock = asyncio.Lock()
        self._token: Token | None = None
        self._refresh_token: str | None = None
        self._fresh_until = 0.0
        self.password_grants = 0
        self.refresh_grants = 0

    def _fresh(self) -> Token | None:
        if self._token is not None and self._clock() < self._fresh_until:
            return self._token
        return None

    async def current(self) -> Token:
        """A token believed valid: the kept one, or a new one when it is missing or expiring."""
        return self._fresh() or await self.renew(stale=self._token)

    async def renew(self, *, stale: Token | None) -> Token:
        """A token newer than ``stale``: fetched here, or taken from a concurrent renewal."""
        seen = stale.generation if stale is not None else 0
        async with self._lock:
            fresh = self._fresh()
            if fresh is not None and fresh.generation > seen:
                return fresh
            granted = await self._fetch()
            generation = (self._token.generation if self._token is not None else 0) + 1
            self._token = Token(granted.access_token, generation)
            self._refresh_token = granted.refresh_token
            margin = min(self._margin_s, granted.expires_in / 10)
            self._fresh_until = self._clock() + granted.expires_in - margin
            return self._token

    async def _fetch(self) -> Grant:
        refresh_token, self._refresh_token = self._refresh_token, None
        if refresh_token is not None:
            try:
                granted = await self._refresh_grant(refresh_token)
            except UpstreamRejected:
                pass  # spent or expired: the password grant starts a new pair
            else:
                self.refresh_grants += 1
                return granted
        granted = await self._password_grant()
        self.password_grants += 1
        return granted
