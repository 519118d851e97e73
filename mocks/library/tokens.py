"""Issued tokens and their expiry on the mock clock."""

from __future__ import annotations

import secrets

from mocks.library.clock import Clock

APPID = "ihub-dev"
SECRET = "dev-library-secret"  # noqa: S105 - the dev credential documented for the mock
TOKEN_TTL_SECONDS = 86400


class TokenStore:
    """Every token issued and when it expires, in mock-clock epoch seconds."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.expiry: dict[str, float] = {}

    def issue(self) -> str:
        token = secrets.token_hex(16)
        self.expiry[token] = self.clock.now() + TOKEN_TTL_SECONDS
        return token

    def valid(self, token: str) -> bool:
        expires = self.expiry.get(token)
        return expires is not None and self.clock.now() < expires

    def expire_all(self) -> int:
        """Forget every token (``POST /__admin/tokens/expire``); returns how many there were."""
        count = len(self.expiry)
        self.expiry.clear()
        return count
