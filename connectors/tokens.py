"""An upstream access token shared by every caller: fetched lazily, renewed before it expires,
and renewed once when refused, however many callers notice at the same moment.

One renewal at a time, shared (``connectors.singleflight``): every caller that needs a token
while a renewal is in flight waits for that renewal's answer, and all of them resume together
when it comes (an ``asyncio.Lock`` would hand them the token one loop turn each, so that the
reads they make next would go out spread over tens of milliseconds and miss one another's
calls) — its failure, too, reaches them all, instead of each making the fetch again in turn.
A generation counter lets a caller that held a stale token (generation *g*) take the token a
renewal already produced (generation > *g*) instead of fetching yet another. Token values
stay out of ``repr`` (and so out of logs).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.singleflight import InFlight

MARGIN_S = 300.0
"""Renew this long before the upstream's expiry (at most a tenth of the lifetime)."""

Fetch = Callable[[], Awaitable[tuple[str, float]]]
RENEWAL = "renewal"
"""The one key of a token's renewals in flight."""


@dataclass(frozen=True)
class Token:
    """A token in use, numbered so that callers can tell a stale one from a renewed one."""

    value: str = field(repr=False)
    generation: int


class SharedToken:
    """The current token; ``fetch()`` returns a new ``(value, expires_in_s)``."""

    def __init__(
        self, fetch: Fetch, *, clock: Callable[[], float], margin_s: float = MARGIN_S
    ) -> None:
        self._fetch_token = fetch
        self._clock = clock
        self._margin_s = margin_s
        self._renewal = InFlight()
        self._token: Token | None = None
        self._fresh_until = 0.0

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
        fresh = self._fresh()
        if fresh is not None and fresh.generation > seen:
            return fresh
        # a renewal in flight brings the generation after the current one: newer than ``stale``
        return await self._renewal.run(RENEWAL, self._renew_now)

    async def _renew_now(self) -> Token:
        value, expires_in = await self._fetch_token()
        generation = (self._token.generation if self._token is not None else 0) + 1
        self._token = Token(value, generation)
        margin = min(self._margin_s, expires_in / 10)
        self._fresh_until = self._clock() + expires_in - margin
        return self._token


@dataclass(frozen=True)
class Grant:
    """What a token endpoint answered: the token and its lifetime in seconds."""

    value: str = field(repr=False)
    expires_in: float


def grant_of(payload: object, department: str, value_field: str) -> Grant:
    """``{value_field: "…", "expires_in": n, …}`` → ``Grant`` (a positive lifetime)."""
    f = Fields(payload, department, "token")
    expires_in = f.number("expires_in")
    if expires_in <= 0:
        raise UpstreamPayloadError(department, "token.expires_in: not positive")
    return Grant(f.text(value_field), expires_in)


class TokenKeeper(SharedToken):
    """A token fetched whole by ``fetch`` (no refresh token), counting its fetches."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Grant]],
        *,
        clock: Callable[[], float],
        margin_s: float = MARGIN_S,
    ) -> None:
        super().__init__(self._fetch, clock=clock, margin_s=margin_s)
        self._grant = fetch
        self.fetches = 0

    async def _fetch(self) -> tuple[str, float]:
        granted = await self._grant()
        self.fetches += 1
        return granted.value, granted.expires_in
