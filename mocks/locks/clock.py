"""The lock cloud's adjustable notion of now, in epoch milliseconds like the cloud itself."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

# Asia/Shanghai has had no daylight saving since 1991; a fixed offset needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY_MS = 86_400_000


class Clock:
    """Wall-clock time shifted by ``offset_seconds`` (set through ``POST /__admin/clock``).

    Everything time-dependent reads it: token expiry, the ``date`` skew check, the unlock rate
    window and when an asynchronous unlock command completes.
    """

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def now_ms(self) -> int:
        """Epoch milliseconds as the mock sees them."""
        return int((time.time() + self.offset_seconds) * 1000)

    def midnight_ms(self) -> int:
        """Epoch milliseconds of today's midnight in Shanghai: the anchor of the seeded dates."""
        today = datetime.fromtimestamp(self.now_ms() / 1000, SHANGHAI).date()
        return int(datetime(today.year, today.month, today.day, tzinfo=SHANGHAI).timestamp()) * 1000

    def as_json(self) -> dict[str, object]:
        now = self.now_ms()
        return {
            "offset_seconds": self.offset_seconds,
            "now_ms": now,
            "now": datetime.fromtimestamp(now / 1000, SHANGHAI).isoformat(timespec="milliseconds"),
        }
