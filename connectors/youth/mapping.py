"""Pure functions: one youth-center payload in, one record out; plus the refusal table. No I/O."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import TypeVar

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.youth.models import (
    Application,
    ApplicationState,
    Course,
    CourseFilter,
    CoursePage,
    CourseStatus,
    EnrollmentMode,
    Member,
    Schedule,
)

DEPARTMENT = "youth"
MAX_PAGE_SIZE = 50

E = TypeVar("E", bound=Enum)

REFUSALS: Mapping[str, tuple[str, str]] = {
    "not_found": ("NOT_FOUND", "No such course, member or application."),
    "course_full": ("COURSE_FULL", "The course and its waiting list are full."),
    "already_applied": ("ALREADY_APPLIED", "The member has already applied for this course."),
    "age_not_eligible": ("AGE_NOT_ELIGIBLE", "The member's age is outside the course's range."),
    "not_open": ("NOT_OPEN", "Applications for this course are not open now."),
    "amount_mismatch": ("AMOUNT_MISMATCH", "The amount paid differs from the amount due."),
    "payment_expired": ("PAYMENT_EXPIRED", "The time to pay for this place has run out."),
    "invalid_state": ("INVALID_STATE", "The application does not allow this in its state."),
}
"""The center's refusal codes → (the hub's domain code, the hub's own message)."""


def refusal(upstream_code: str | None) -> tuple[str, str] | None:
    """The domain code and message for a center refusal code, ``None`` when it is not one."""
    return REFUSALS.get(upstream_code) if upstream_code is not None else None


def _choice(kind: type[E], value: str, record: str) -> E:
    try:
        return kind(value)
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"{record}: unknown value {value!r}") from exc


def _opt_timestamp(f: Fields, key: str) -> datetime | None:
    return f.timestamp(key) if f.opt_text(key) is not None else None


def _schedule(f: Fields) -> Schedule:
    return Schedule(weekday=f.integer("weekday"), start=f.text("start"), end=f.text("end"))


def course(payload: object) -> Course:
    f = Fields(payload, DEPARTMENT, "course")
    return Course(
        id=f.text("course_id"),
        name=f.text("name"),
        category=f.text("category"),
        term=f.text("term"),
        age_min=f.integer("age_min"),
        age_max=f.integer("age_max"),
        schedule=_schedule(f.nested("schedule")),
        start_date=f.day("start_date"),
        sessions=f.integer("sessions"),
        venue=f.opt_text("venue") or "",
        teacher=f.opt_text("teacher") or "",
        fee_fen=f.integer("fee_fen"),
        material_fee_fen=f.opt_integer("material_fee_fen") or 0,
        capacity=f.integer("capacity"),
        enrolled=f.integer("enrolled"),
        mode=_choice(EnrollmentMode, f.text("mode"), "course.mode"),
        prereg_open=_opt_timestamp(f, "prereg_open"),
        prereg_close=_opt_timestamp(f, "prereg_close"),
        lottery_at=_opt_timestamp(f, "lottery_at"),
        status=_choice(CourseStatus, f.text("status"), "course.status"),
    )


def course_page(payload: object) -> CoursePage:
    f = Fields(payload, DEPARTMENT, "courses")
    return CoursePage(
        total=f.integer("total"),
        courses=tuple(course(element) for element in f.array("items")),
    )


def member(payload: object) -> Member:
    f = Fields(payload, DEPARTMENT, "member")
    return Member(
        member_no=f.text("member_no"),
        name=f.text("name"),
        birth_date=f.day("birth_date"),
        guardian_resident_id=f.opt_text("guardian_resident_id"),
    )


def application(payload: object) -> Application:
    f = Fields(payload, DEPARTMENT, "application")
    return Application(
        id=f.text("application_id"),
        course_id=f.text("course_id"),
        member_no=f.text("member_no"),
        preference_rank=f.integer("preference_rank"),
        state=_choice(ApplicationState, f.text("state"), "application.state"),
        waitlist_number=f.opt_integer("waitlist_no"),
        pay_deadline=_opt_timestamp(f, "pay_deadline"),
        amount_fen=f.integer("amount_fen"),
        created_at=f.timestamp("created_at"),
    )


def applications(payload: object) -> tuple[Application, ...]:
    f = Fields(payload, DEPARTMENT, "applications")
    return tuple(application(element) for element in f.array("items"))


def course_params(filter: CourseFilter, page: int, page_size: int) -> dict[str, str]:
    """The query string of ``GET /api/v1/courses``; a filter left ``None`` is not sent."""
    params = {"page": str(page), "page_size": str(page_size)}
    wanted: Mapping[str, object | None] = {
        "term": filter.term,
        "category": filter.category,
        "age": filter.age,
        "status": filter.status.value if filter.status is not None else None,
        "q": filter.text.strip() if filter.text else None,
    }
    params.update({name: str(value) for name, value in wanted.items() if value not in (None, "")})
    return params
