"""The platform account, and the access / refresh tokens issued to it."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from mocks.locks.clock import Clock

CLIENT_ID = "ihub-dev-client"
CLIENT_SECRET = "dev-lock-secret"  # noqa: S105 - the dev credential documented for the mock
USERNAME = "luohu-property-platform"
PASSWORD = "dev-lock-password"  # noqa: S105 - sent as its md5 hex digest, as the cloud wants
PASSWORD_MD5 = hashlib.md5(PASSWORD.encode()).hexdigest()  # noqa: S324 - the cloud's protocol
PLATFORM_UID = 8800001
ACCESS_TTL_SECONDS = 7200
REFRESH_TTL_SECONDS = 90 * 86400


@dataclass(frozen=True)
class TokenPair:
    """What ``/oauth2/token`` hands out."""

    access_token: str
    refresh_token: str

    def as_json(self) -> dict[str, object]:
        return {
            "access_token": self.access_token,
            "uid": PLATFORM_UID,
            "refresh_token": self.refresh_token,
            "expires_in": ACCESS_TTL_SECONDS,
        }


class TokenStore:
    """Issued tokens and their expiry in mock-clock epoch milliseconds.

    A refresh token is good for one refresh; ``expire_access`` leaves refresh tokens alone, so
    a client can recover from an expired access token without the password.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.access: dict[str, int] = {}
        self.refresh: dict[str, int] = {}

    def issue(self) -> TokenPair:
        now = self.clock.now_ms()
        pair = TokenPair(secrets.token_hex(16), secrets.token_hex(16))
        self.access[pair.access_token] = now + ACCESS_TTL_SECONDS * 1000
        self.refresh[pair.refresh_token] = now + REFRESH_TTL_SECONDS * 1000
        return pair

    def renew(self, refresh_token: str) -> TokenPair | None:
        """A new pair for a live refresh token, which is spent; ``None`` if it is not live."""
        expires = self.refresh.pop(refresh_token, None)
        if expires is None or self.clock.now_ms() >= expires:
            return None
        return self.issue()

    def valid(self, access_token: str) -> bool:
        expires = self.access.get(access_token)
        return expires is not None and self.clock.now_ms() < expires

    def expire_access(self) -> int:
        """Forget every access token (``POST /__admin/tokens/expire``); returns how many."""
        count = len(self.access)
        self.access.clear()
        return count


def credentials_match(client_id: str, client_secret: str, username: str, password: str) -> bool:
    """The platform account's credentials; the password is its md5 hex digest, any case."""
    return client_matches(client_id, client_secret) and (username, password.lower()) == (
        USERNAME,
        PASSWORD_MD5,
    )


def client_matches(client_id: str, client_secret: str) -> bool:
    """The platform's client id and secret (all a refresh needs besides the refresh token)."""
    return (client_id, client_secret) == (CLIENT_ID, CLIENT_SECRET)
