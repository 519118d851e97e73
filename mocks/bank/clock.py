"""The bank's notion of now: Shanghai wall-clock time plus an offset set by ``/__admin/clock``."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

# Asia/Shanghai has had no daylight saving since 1991; a fixed offset needs no tz database.
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class BankClock:
    """Wall-clock time in Shanghai, shifted by ``offset`` (absolute, not cumulative)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(SHANGHAI) + self.offset

    def today(self) -> date:
        return self.now().date()


def stamp(moment: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Shanghai, the banks' timestamp format."""
    return moment.astimezone(SHANGHAI).strftime(TIMESTAMP_FORMAT)


def parse_stamp(text: str) -> datetime | None:
    """A ``yyyy-MM-dd HH:mm:ss`` Shanghai timestamp, or ``None`` if it is not one."""
    if not _TIMESTAMP.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError:
        return None


def parse_day(text: str) -> date | None:
    """A ``yyyy-MM-dd`` date, or ``None`` if it is not one."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
