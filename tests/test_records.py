"""Records survive the trip through the idempotency store's JSON unchanged."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from connectors.library.models import Loan, Return
from connectors.youth.models import (
    Application,
    ApplicationState,
    Course,
    CourseStatus,
    EnrollmentMode,
    Schedule,
)
from schema.records import from_json, to_json

CST = timezone(timedelta(hours=8))


def test_round_trips() -> None:
    records = [
        Loan("044000100001", "500001", "三体", date(2026, 11, 1), date(2026, 12, 2), 1, 1, False),
        Return("044000100001", 150),
        Application(
            "A1",
            "YC2026A-0001",
            "Y00031",
            1,
            ApplicationState.OFFERED,
            None,
            datetime(2026, 11, 27, 10, 30, tzinfo=CST),
            48000,
            datetime(2026, 11, 27, 10, 0, tzinfo=CST),
        ),
        Course(
            "YC2026A-0001",
            "少儿国画（初级）",
            "书画",
            "2026-autumn",
            6,
            9,
            Schedule(6, "09:00", "10:30"),
            date(2026, 12, 5),
            12,
            "活动中心301",
            "王老师",
            48000,
            0,
            20,
            3,
            EnrollmentMode.LOTTERY,
            None,
            None,
            datetime(2026, 12, 1, 10, 0, tzinfo=CST),
            CourseStatus.PRE_REG,
        ),
    ]
    for record in records:
        assert from_json(type(record), to_json(record)) == record
