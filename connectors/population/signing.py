"""The exchange's request signature: HMAC-SHA256 (the standard library's ``hmac``), hex.

Signed text: ``app \\n timestamp_ms \\n nonce \\n METHOD \\n path \\n hex sha256(body)``. A new
timestamp and nonce for every attempt: the exchange refuses a nonce it has seen.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def string_to_sign(
    app: str, timestamp_ms: int, nonce: str, method: str, path: str, body: bytes
) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((app, str(timestamp_ms), nonce, method.upper(), path, digest))


def signature(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def signed_headers(
    app: str,
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp_ms: int,
    nonce: str | None = None,
) -> dict[str, str]:
    nonce = nonce or secrets.token_hex(16)
    text = string_to_sign(app, timestamp_ms, nonce, method, path, body)
    return {
        "X-Exchange-App": app,
        "X-Exchange-Timestamp": str(timestamp_ms),
        "X-Exchange-Nonce": nonce,
        "X-Exchange-Signature": signature(secret, text),
    }
