"""The gateway's signatures, both ways: hex HMAC-SHA256 (the standard library's ``hmac``).

- Requests, with the app secret: ``METHOD \\n path \\n timestamp_ms \\n nonce \\n hex
  sha256(body)``, sent as ``X-Sms-Timestamp``, ``X-Sms-Nonce``, ``X-Sms-Signature``; a new
  nonce every attempt (the gateway refuses one it has seen: ``SignatureNonceUsed``).
- Callbacks, with the callback key: ``timestamp_ms \\n nonce \\n hex sha256(body)`` in the
  same headers (the gateway does not know the webhook's path).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping

TIMESTAMP = "X-Sms-Timestamp"
NONCE = "X-Sms-Nonce"
SIGNATURE = "X-Sms-Signature"
SKEW_MS = 300_000
"""How far a callback's timestamp may be from our clock (five minutes, as the gateway allows)."""


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def request_headers(
    secret: str,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp_ms: int,
    nonce: str | None = None,
) -> dict[str, str]:
    nonce = nonce or secrets.token_hex(16)
    digest = hashlib.sha256(body).hexdigest()
    text = "\n".join((method.upper(), path, str(timestamp_ms), nonce, digest))
    return {TIMESTAMP: str(timestamp_ms), NONCE: nonce, SIGNATURE: _hmac(secret, text)}


def callback_signature(secret: str, timestamp_ms: str, nonce: str, body: bytes) -> str:
    return _hmac(secret, "\n".join((timestamp_ms, nonce, hashlib.sha256(body).hexdigest())))


def callback_problem(
    secret: str, headers: Mapping[str, str], body: bytes, *, now_ms: int
) -> str | None:
    """Why a callback is not the gateway's (``None``: it is). ``headers`` with any case."""
    found = {key.lower(): value for key, value in headers.items()}
    timestamp = found.get(TIMESTAMP.lower(), "")
    nonce = found.get(NONCE.lower(), "")
    signature = found.get(SIGNATURE.lower(), "")
    if not (timestamp and nonce and signature):
        return "signature headers missing"
    if not timestamp.isascii() or not timestamp.isdigit():
        return "timestamp is not epoch milliseconds"
    if abs(int(timestamp) - now_ms) > SKEW_MS:
        return "timestamp more than five minutes off"
    expected = callback_signature(secret, timestamp, nonce, body)
    if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
        return "signature does not match"
    return None
