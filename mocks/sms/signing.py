"""The gateway's signatures, both ways: hex HMAC-SHA256, the standard library's ``hmac``.

A request to the gateway is signed with the app's secret over
``METHOD \\n path \\n timestamp \\n nonce \\n hex sha256(body)`` (``X-Sms-Timestamp`` in epoch
milliseconds within five minutes of the real time, ``X-Sms-Nonce`` accepted once in ten
minutes, ``X-Sms-Signature``); the app is the body's ``app_id``.

A callback from the gateway is signed with the callback key the gateway shares with the hub
over ``timestamp \\n nonce \\n hex sha256(body)``, in the same three headers: the gateway
does not know under which path the hub receives it. Each delivery is signed afresh.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import deque
from dataclasses import dataclass, field

TIMESTAMP = "X-Sms-Timestamp"
NONCE = "X-Sms-Nonce"
SIGNATURE = "X-Sms-Signature"
SKEW_MS = 300_000
NONCE_TTL_S = 600.0


def request_text(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest))


def callback_text(timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join((timestamp, nonce, hashlib.sha256(body).hexdigest()))


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def callback_headers(secret: str, body: bytes) -> dict[str, str]:
    """The headers of one callback delivery, freshly time-stamped and with a new nonce."""
    timestamp, nonce = str(int(time.time() * 1000)), secrets.token_hex(16)
    return {
        TIMESTAMP: timestamp,
        NONCE: nonce,
        SIGNATURE: sign(secret, callback_text(timestamp, nonce, body)),
        "Content-Type": "application/json; charset=utf-8",
    }


def fresh(timestamp: str) -> bool:
    """Whether an epoch-milliseconds timestamp is within five minutes of the real time."""
    return timestamp.isdigit() and abs(int(timestamp) - int(time.time() * 1000)) <= SKEW_MS


@dataclass
class Nonces:
    """Nonces seen in the last ``NONCE_TTL_S`` seconds (monotonic time)."""

    seen: dict[str, float] = field(default_factory=dict)
    order: deque[tuple[float, str]] = field(default_factory=deque)

    def first_use(self, nonce: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        while self.order and self.order[0][0] <= now:
            _, old = self.order.popleft()
            if self.seen.get(old, now + 1) <= now:
                del self.seen[old]
        if nonce in self.seen:
            return False
        self.seen[nonce] = now + NONCE_TTL_S
        self.order.append((now + NONCE_TTL_S, nonce))
        return True
