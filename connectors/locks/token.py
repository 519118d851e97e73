"""The lock-cloud access token: fetched lazily, renewed before expiry, renewed once when refused.

The cloud hands out an access token and a one-use refresh token. Renewal spends the refresh
token (``grant_type=refresh_token``); when the cloud refuses it (spent, expired, unknown), the
password grant starts a new pair. Sharing and generations: ``connectors.tokens.SharedToken``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.payload import Fields
from connectors.tokens import MARGIN_S, SharedToken, Token

__all__ = ["Grant", "Token", "TokenKeeper", "grant"]

DEPARTMENT = "locks"


@dataclass(frozen=True)
class Grant:
    """What ``/oauth2/token`` answered."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_in: float


def grant(payload: object) -> Grant:
    """``{"access_token", "uid", "refresh_token", "expires_in"}`` → ``Grant``."""
    f = Fields(payload, DEPARTMENT, "token")
    expires_in = f.number("expires_in")
    if expires_in <= 0:
        raise UpstreamPayloadError(DEPARTMENT, "token.expires_in: not positive")
    return Grant(f.text("access_token"), f.opt_text("refresh_token") or None, expires_in)


PasswordGrant = Callable[[], Awaitable[Grant]]
RefreshGrant = Callable[[str], Awaitable[Grant]]


class TokenKeeper(SharedToken):
    """The cloud's token: renewed with the one-use refresh token, else the password grant."""

    def __init__(
        self,
        password_grant: PasswordGrant,
        refresh_grant: RefreshGrant,
        *,
        clock: Callable[[], float],
        margin_s: float = MARGIN_S,
    ) -> None:
        super().__init__(self._fetch, clock=clock, margin_s=margin_s)
        self._password_grant = password_grant
        self._refresh_grant = refresh_grant
        self._refresh_token: str | None = None
        self.password_grants = 0
        self.refresh_grants = 0

    async def _fetch(self) -> tuple[str, float]:
        granted = await self._grant()
        self._refresh_token = granted.refresh_token
        return granted.access_token, granted.expires_in

    async def _grant(self) -> Grant:
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
