"""The city data-sharing exchange's gate: signatures, nonces, purposes, the call log, quotas
and the nightly maintenance window. Everything here is the exchange's, not the registry's.

Signature: hex HMAC-SHA256 with the app's secret over
``app \\n timestamp \\n nonce \\n METHOD \\n path \\n hex sha256(body)``; ``X-Exchange-Timestamp``
in epoch milliseconds within five minutes; a nonce is accepted once in ten minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mocks.common.gov import shanghai_now

APPS = {"ihub-luohu": "dev-exchange-secret"}
SKEW_MS = 300_000
NONCE_TTL_S = 600.0
PURPOSE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{3,63}")
LOG_SIZE = 10_000


def string_to_sign(
    app: str, timestamp: str, nonce: str, method: str, path: str, body: bytes
) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((app, timestamp, nonce, method.upper(), path, digest))


def sign(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


class Refusal(Exception):
    """The exchange refuses the call: HTTP ``status`` with ``{"code", "message"}``."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after


@dataclass
class Nonces:
    """Nonces seen in the last ``NONCE_TTL_S`` seconds, per app."""

    seen: dict[tuple[str, str], float] = field(default_factory=dict)
    order: deque[tuple[float, tuple[str, str]]] = field(default_factory=deque)

    def first_use(self, app: str, nonce: str, now: float) -> bool:
        while self.order and self.order[0][0] <= now:
            _, key = self.order.popleft()
            if self.seen.get(key, now + 1) <= now:
                del self.seen[key]
        key = (app, nonce)
        if key in self.seen:
            return False
        self.seen[key] = now + NONCE_TTL_S
        self.order.append((now + NONCE_TTL_S, key))
        return True


@dataclass
class Maintenance:
    """A nightly window ``HH:MM-HH:MM`` in Shanghai time (may wrap midnight), or none."""

    window: tuple[int, int] | None = None  # minutes after midnight

    def set(self, text: str | None) -> None:
        if text is None:
            self.window = None
            return
        match = re.fullmatch(r"(\d\d):(\d\d)-(\d\d):(\d\d)", text)
        if not match:
            raise ValueError("window must be HH:MM-HH:MM or null")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59 or (h1, m1) == (h2, m2):
            raise ValueError("window must be two different times of day")
        self.window = (h1 * 60 + m1, h2 * 60 + m2)

    def text(self) -> str | None:
        if self.window is None:
            return None
        start, end = self.window
        return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"

    def seconds_left(self, now: datetime | None = None) -> int | None:
        """Seconds until the window ends when ``now`` is inside it, else ``None``."""
        if self.window is None:
            return None
        now = now or shanghai_now()
        minute = now.hour * 60 + now.minute
        start, end = self.window
        inside = start <= minute < end if start < end else minute >= start or minute < end
        if not inside:
            return None
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        ends = midnight + timedelta(minutes=end)
        if ends <= now:
            ends += timedelta(days=1)
        return max(int((ends - now).total_seconds()), 1)


@dataclass
class CallLog:
    """Every call the exchange saw with the purpose it named (the exchange's audit)."""

    entries: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))

    def add(self, **entry: Any) -> None:
        self.entries.append({"at": shanghai_now().isoformat(timespec="milliseconds"), **entry})


def check_signature(headers: Any, method: str, path: str, body: bytes, nonces: Nonces) -> str:
    """The calling app, or ``Refusal`` (401) for a missing, stale, replayed or wrong signature."""
    app = headers.get("X-Exchange-App", "")
    timestamp = headers.get("X-Exchange-Timestamp", "")
    nonce = headers.get("X-Exchange-Nonce", "")
    signature = headers.get("X-Exchange-Signature", "")
    if not (app and timestamp and nonce and signature):
        raise Refusal(
            401, "E_AUTH", "X-Exchange-App, -Timestamp, -Nonce and -Signature are required"
        )
    secret = APPS.get(app)
    if secret is None:
        raise Refusal(401, "E_APP", "unknown app")
    if not timestamp.isdigit() or abs(int(timestamp) - int(time.time() * 1000)) > SKEW_MS:
        raise Refusal(401, "E_TIMESTAMP", "timestamp missing or more than 5 minutes off")
    expected = sign(secret, string_to_sign(app, timestamp, nonce, method, path, body))
    if not hmac.compare_digest(expected, signature.lower()):
        raise Refusal(401, "E_SIGNATURE", "signature does not match")
    if not nonces.first_use(app, nonce, time.monotonic()):
        raise Refusal(401, "E_NONCE", "nonce already used")
    return app


def check_purpose(headers: Any) -> str:
    purpose = headers.get("X-Exchange-Purpose", "").strip()
    if not PURPOSE.fullmatch(purpose):
        raise Refusal(403, "E_PURPOSE", "X-Exchange-Purpose must name the service item (impl_code)")
    return purpose
