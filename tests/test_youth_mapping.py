"""Pure mapping of youth-center payloads: samples as the center sends them, no server."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from connectors.errors import UpstreamPayloadError
from connectors.youth import mapping
from connectors.youth.models import (
    ApplicationState,
    CourseFilter,
    CourseStatus,
    EnrollmentMode,
    Schedule,
)

SHANGHAI = timezone(timedelta(hours=8))
FIRST_COME = {
    "course_id": "YC2026A-0001",
    "name": "少儿国画（高级）",
    "category": "书画",
    "term": "2026-autumn",
    "age_min": 9,
    "age_max": 12,
    "schedule": {"weekday": 6, "start": "09:00", "end": "10:30"},
    "start_date": "2026-12-26",
    "sessions": 16,
    "venue": "东晓分部 1楼书画室102",
    "teacher": "罗馨馨",
    "fee_fen": 80000,
    "material_fee_fen": 3000,
    "capacity": 21,
    "enrolled": 14,
    "mode": "FIRST_COME",
    "prereg_open": "2026-11-13T09:00:00+08:00",
    "prereg_close": "2026-12-26T00:00:00+08:00",
    "lottery_at": None,
    "status": "ENROLLING",
}
LOTTERY = {
    **FIRST_COME,
    "course_id": "YC2026A-0002",
    "name": "乒乓球（启蒙）",
    "mode": "LOTTERY",
    "prereg_close": "2026-11-21T18:00:00+08:00",
    "lottery_at": "2026-11-23T10:00:00+08:00",
    "status": "FULL",
}
OFFERED = {
    "application_id": "YA00004033",
    "course_id": "YC2026A-0082",
    "member_no": "Y00031",
    "preference_rank": 1,
    "state": "OFFERED",
    "waitlist_no": None,
    "pay_deadline": "2026-11-28T01:57:25+08:00",
    "amount_fen": 100500,
    "created_at": "2026-11-28T01:27:25+08:00",
    "paid_at": None,
    "channel": None,
    "payment_ref": None,
    "refund_fen": None,
}
LOST = {
    **OFFERED,
    "application_id": "YA00003000",
    "member_no": "Y00033",
    "preference_rank": 2,
    "state": "LOST",
    "waitlist_no": 3,
    "pay_deadline": None,
}
MEMBER = {
    "member_no": "Y00031",
    "name": "刘思远",
    "birth_date": "2015-08-23",
    "guardian_resident_id": "R000005",
}


def test_first_come_course_maps_every_field() -> None:
    course = mapping.course(FIRST_COME)
    assert course.id == "YC2026A-0001"
    assert (course.name, course.category, course.term) == (
        "少儿国画（高级）",
        "书画",
        "2026-autumn",
    )
    assert (course.age_min, course.age_max) == (9, 12)
    assert course.schedule == Schedule(weekday=6, start="09:00", end="10:30")
    assert course.start_date == date(2026, 12, 26)
    assert (course.fee_fen, course.material_fee_fen) == (80000, 3000)
    assert (course.capacity, course.enrolled, course.sessions) == (21, 14, 16)
    assert course.mode is EnrollmentMode.FIRST_COME
    assert course.status is CourseStatus.ENROLLING
    assert course.prereg_open == datetime(2026, 11, 13, 9, tzinfo=SHANGHAI)
    assert course.prereg_open is not None and course.prereg_open.utcoffset() == timedelta(hours=8)
    assert course.lottery_at is None


def test_lottery_course_keeps_its_draw_time() -> None:
    course = mapping.course(LOTTERY)
    assert course.mode is EnrollmentMode.LOTTERY
    assert course.status is CourseStatus.FULL
    assert course.lottery_at == datetime(2026, 11, 23, 2, tzinfo=UTC)


def test_unknown_fields_are_ignored() -> None:
    schedule = {"weekday": 6, "start": "09:00", "end": "10:30", "room": "102"}
    course = mapping.course({**FIRST_COME, "room_photo": "x.jpg", "schedule": schedule})
    assert course == mapping.course(FIRST_COME)
    assert mapping.application({**OFFERED, "refund_fen": 0, "new": 1}) == mapping.application(
        OFFERED
    )


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in FIRST_COME.items() if k != "course_id"},
        {k: v for k, v in FIRST_COME.items() if k != "schedule"},
        {**FIRST_COME, "schedule": {"weekday": 6, "start": "09:00"}},
        {**FIRST_COME, "mode": "RAFFLE"},
        {**FIRST_COME, "status": "OPEN"},
        {**FIRST_COME, "capacity": "21"},
        {**FIRST_COME, "start_date": "26/12/2026"},
        {**FIRST_COME, "prereg_open": "2026-11-13T09:00:00"},
        ["not", "an", "object"],
    ],
)
def test_course_with_missing_or_wrong_required_field_is_a_payload_error(broken: object) -> None:
    with pytest.raises(UpstreamPayloadError) as raised:
        mapping.course(broken)
    assert raised.value.department == "youth"


@pytest.mark.parametrize("state", [state.value for state in ApplicationState])
def test_application_maps_every_state(state: str) -> None:
    assert mapping.application({**OFFERED, "state": state}).state is ApplicationState(state)


def test_offered_application_has_an_aware_deadline() -> None:
    app = mapping.application(OFFERED)
    assert (app.id, app.course_id, app.member_no) == ("YA00004033", "YC2026A-0082", "Y00031")
    assert (app.preference_rank, app.amount_fen, app.waitlist_number) == (1, 100500, None)
    assert app.pay_deadline == datetime(2026, 11, 28, 1, 57, 25, tzinfo=SHANGHAI)
    assert app.pay_deadline is not None and app.pay_deadline - app.created_at == timedelta(
        minutes=30
    )


def test_lost_application_keeps_its_waitlist_number() -> None:
    app = mapping.application(LOST)
    assert (app.state, app.waitlist_number, app.pay_deadline) == (ApplicationState.LOST, 3, None)
    assert app.preference_rank == 2


@pytest.mark.parametrize(
    "broken",
    [
        {k: v for k, v in OFFERED.items() if k != "created_at"},
        {k: v for k, v in OFFERED.items() if k != "state"},
        {**OFFERED, "state": "PENDING"},
        {**OFFERED, "amount_fen": 1005.0},
        {**OFFERED, "waitlist_no": "3"},
    ],
)
def test_application_with_missing_or_wrong_field_is_a_payload_error(broken: object) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.application(broken)


def test_applications_list_maps_each_item() -> None:
    apps = mapping.applications({"items": [OFFERED, LOST]})
    assert [a.state for a in apps] == [ApplicationState.OFFERED, ApplicationState.LOST]
    assert mapping.applications({"items": []}) == ()
    with pytest.raises(UpstreamPayloadError):
        mapping.applications([OFFERED])
    with pytest.raises(UpstreamPayloadError):
        mapping.applications({"items": [OFFERED, "YA1"]})


def test_member_maps_fields_and_allows_no_guardian() -> None:
    member = mapping.member(MEMBER)
    assert (member.member_no, member.name) == ("Y00031", "刘思远")
    assert member.birth_date == date(2015, 8, 23)
    assert member.guardian_resident_id == "R000005"
    assert mapping.member({**MEMBER, "guardian_resident_id": None}).guardian_resident_id is None
    with pytest.raises(UpstreamPayloadError):
        mapping.member({k: v for k, v in MEMBER.items() if k != "birth_date"})


def test_course_page_maps_total_and_items() -> None:
    page = mapping.course_page(
        {"total": 137, "page": 1, "page_size": 2, "items": [FIRST_COME, LOTTERY]}
    )
    assert page.total == 137
    assert [c.id for c in page.courses] == ["YC2026A-0001", "YC2026A-0002"]
    assert mapping.course_page({"total": 0, "page": 9, "page_size": 20, "items": []}).courses == ()
    with pytest.raises(UpstreamPayloadError):
        mapping.course_page({"page": 1, "items": []})


def test_course_params_send_only_the_filters_given() -> None:
    assert mapping.course_params(CourseFilter(), 1, 20) == {"page": "1", "page_size": "20"}
    wanted = CourseFilter(
        term="2026-autumn", category="书画", age=6, status=CourseStatus.FULL, text=" 国画 "
    )
    assert mapping.course_params(wanted, 3, 50) == {
        "page": "3",
        "page_size": "50",
        "term": "2026-autumn",
        "category": "书画",
        "age": "6",
        "status": "FULL",
        "q": "国画",
    }
    assert mapping.course_params(CourseFilter(age=0, text="  "), 1, 1)["age"] == "0"
    assert "q" not in mapping.course_params(CourseFilter(text="  "), 1, 1)


@pytest.mark.parametrize(
    ("upstream", "domain"),
    [
        ("not_found", "NOT_FOUND"),
        ("course_full", "COURSE_FULL"),
        ("already_applied", "ALREADY_APPLIED"),
        ("age_not_eligible", "AGE_NOT_ELIGIBLE"),
        ("not_open", "NOT_OPEN"),
        ("amount_mismatch", "AMOUNT_MISMATCH"),
        ("payment_expired", "PAYMENT_EXPIRED"),
        ("invalid_state", "INVALID_STATE"),
    ],
)
def test_refusal_table_maps_center_codes_to_domain_codes(upstream: str, domain: str) -> None:
    found = mapping.refusal(upstream)
    assert found is not None
    code, message = found
    assert code == domain
    assert message and message.isascii(), "our own message, not the center's Chinese text"


@pytest.mark.parametrize("upstream", ["idempotency_conflict", "bad_request", "unauthorized", None])
def test_errors_that_are_not_refusals_are_not_in_the_table(upstream: str | None) -> None:
    assert mapping.refusal(upstream) is None
