"""The openlib access token (``GET /openlib/service/barcode/token``), shared by all callers."""

from __future__ import annotations

from connectors.tokens import Grant, Token, TokenKeeper, grant_of

__all__ = ["Grant", "Token", "TokenKeeper", "grant"]

DEPARTMENT = "library"


def grant(payload: object) -> Grant:
    """``{"token": "…", "expires_in": 86400, …}`` → ``Grant``."""
    return grant_of(payload, DEPARTMENT, "token")
