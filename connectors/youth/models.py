"""Youth activity center records as the hub understands them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class CourseStatus(Enum):
    PRE_REG = "PRE_REG"
    DRAWN = "DRAWN"
    ENROLLING = "ENROLLING"
    FULL = "FULL"
    CLOSED = "CLOSED"


class EnrollmentMode(Enum):
    FIRST_COME = "FIRST_COME"
    LOTTERY = "LOTTERY"


class ApplicationState(Enum):
    APPLIED = "APPLIED"
    WON = "WON"
    LOST = "LOST"
    WAITLISTED = "WAITLISTED"
    OFFERED = "OFFERED"
    ENROLLED = "ENROLLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class PaymentChannel(Enum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"


@dataclass(frozen=True)
class Schedule:
    weekday: int
    start: str
    end: str


@dataclass(frozen=True)
class Course:
    id: str
    name: str
    category: str
    term: str
    age_min: int
    age_max: int
    schedule: Schedule
    start_date: date
    sessions: int
    venue: str
    teacher: str
    fee_fen: int
    material_fee_fen: int
    capacity: int
    enrolled: int
    mode: EnrollmentMode
    prereg_open: datetime | None
    prereg_close: datetime | None
    lottery_at: datetime | None
    status: CourseStatus


@dataclass(frozen=True)
class CourseFilter:
    """What ``GET /api/v1/courses`` can filter on; ``None`` means any."""

    term: str | None = None
    category: str | None = None
    age: int | None = None
    status: CourseStatus | None = None
    text: str | None = None


@dataclass(frozen=True)
class CoursePage:
    total: int
    courses: tuple[Course, ...]


@dataclass(frozen=True)
class Member:
    member_no: str
    name: str
    birth_date: date
    guardian_resident_id: str | None


@dataclass(frozen=True)
class Application:
    id: str
    course_id: str
    member_no: str
    preference_rank: int
    state: ApplicationState
    waitlist_number: int | None
    pay_deadline: datetime | None
    amount_fen: int
    created_at: datetime
