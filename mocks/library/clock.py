"""The mock's adjustable notion of now, so tests can age tokens, loans and holds."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

# Asia/Shanghai has had no daylight saving since 1991; a fixed offset needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class Clock:
    """Wall-clock time shifted by ``offset_seconds`` (set through ``POST /__admin/clock``)."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset_seconds = offset_seconds

    def now(self) -> float:
        """Epoch seconds as the mock sees them."""
        return time.time() + self.offset_seconds

    def today(self) -> date:
        """The calendar date in Shanghai as the mock sees it."""
        return datetime.fromtimestamp(self.now(), SHANGHAI).date()

    def as_json(self) -> dict[str, object]:
        return {
            "offset_seconds": self.offset_seconds,
            "now": datetime.fromtimestamp(self.now(), SHANGHAI).isoformat(timespec="seconds"),
            "today": self.today().isoformat(),
        }
