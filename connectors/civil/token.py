"""The civil ledger's bearer token (``POST /auth/token``, client credentials, 2 hours)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.tokens import MARGIN_S, SharedToken, Token

__all__ = ["Grant", "Token", "TokenKeeper", "grant"]

DEPARTMENT = "civil"


@dataclass(frozen=True)
class Grant:
    value: str = field(repr=False)
    expires_in: float


def grant(payload: object) -> Grant:
    """``{"access_token", "token_type": "Bearer", "expires_in": 7200}`` → ``Grant``."""
    f = Fields(payload, DEPARTMENT, "token")
    expires_in = f.number("expires_in")
    if expires_in <= 0:
        raise UpstreamPayloadError(DEPARTMENT, "token.expires_in: not positive")
    return Grant(f.text("access_token"), expires_in)


class TokenKeeper(SharedToken):
    """The ledger's token, fetched with the client credentials by ``fetch``."""

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
