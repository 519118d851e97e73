"""The mock's notion of now: Shanghai wall-clock time plus an offset that tests can move."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=SHANGHAI)


class MockClock:
    """Wall-clock time in Asia/Shanghai, shifted by ``offset`` (``POST /__admin/clock``)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(SHANGHAI).replace(microsecond=0) + self.offset


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """``day`` at ``hour:minute`` in Shanghai."""
    return datetime.combine(day, time(hour, minute), SHANGHAI)


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 to the second with the ``+08:00`` offset the center's API uses."""
    return None if moment is None else moment.astimezone(SHANGHAI).isoformat(timespec="seconds")
