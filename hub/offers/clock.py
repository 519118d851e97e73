"""The offers' clock and the SMS quiet hours (21:00–08:00 in Shanghai)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
QUIET_FROM, QUIET_UNTIL = 21, 8

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(UTC)


def shanghai_day(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date()


def quiet_until(now: datetime) -> datetime | None:
    """When the quiet hours around ``now`` end (08:00 Shanghai), or ``None`` outside them."""
    local = now.astimezone(SHANGHAI)
    if QUIET_UNTIL <= local.hour < QUIET_FROM:
        return None
    morning = local.replace(hour=QUIET_UNTIL, minute=0, second=0, microsecond=0)
    if local.hour >= QUIET_FROM:
        morning += timedelta(days=1)
    return morning.astimezone(UTC)
