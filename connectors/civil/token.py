"""The civil ledger's bearer token (``POST /auth/token``, client credentials, 2 hours)."""

from __future__ import annotations

from connectors.tokens import Grant, Token, TokenKeeper, grant_of

__all__ = ["Grant", "Token", "TokenKeeper", "grant"]

DEPARTMENT = "civil"


def grant(payload: object) -> Grant:
    """``{"access_token", "token_type": "Bearer", "expires_in": 7200}`` → ``Grant``."""
    return grant_of(payload, DEPARTMENT, "access_token")
