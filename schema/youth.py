"""The youth activity center (青少年活动中心): courses, and children's applications."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import Enum

import strawberry

from connectors.youth import YouthLoaders
from connectors.youth import models as m
from schema.common import Money
from schema.context import HubInfo
from schema.errors import BadUserInput
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor, page_info


@strawberry.enum(description="Where a course is in its enrolment cycle.")
class CourseStatus(Enum):
    PRE_REG = "PRE_REG"
    DRAWN = "DRAWN"
    ENROLLING = "ENROLLING"
    FULL = "FULL"
    CLOSED = "CLOSED"


@strawberry.enum(description="First come, first served; or a lottery after pre-registration.")
class EnrollmentMode(Enum):
    FIRST_COME = "FIRST_COME"
    LOTTERY = "LOTTERY"


@strawberry.enum(description="Where an application is: applied, won/lost, offered, enrolled …")
class ApplicationState(Enum):
    APPLIED = "APPLIED"
    WON = "WON"
    LOST = "LOST"
    WAITLISTED = "WAITLISTED"
    OFFERED = "OFFERED"
    ENROLLED = "ENROLLED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


@strawberry.type(description="When a course meets each week (local time).")
class Schedule:
    weekday: int = strawberry.field(description="1 = Monday … 7 = Sunday.")
    start: str
    end: str


@strawberry.federation.type(
    keys=["id"], description="A course at the youth activity center (an entity: `@key(id)`)."
)
class Course:
    id: strawberry.ID
    name: str
    category: str
    term: str
    age_min: int
    age_max: int
    schedule: Schedule
    start_date: dt.date
    sessions: int
    venue: str
    teacher: str
    fee: Money
    material_fee: Money
    capacity: int
    enrolled: int
    mode: EnrollmentMode
    prereg_open: dt.datetime | None
    prereg_close: dt.datetime | None
    lottery_at: dt.datetime | None
    status: CourseStatus

    @strawberry.field(description="Seats not yet taken.")
    def seats_left(self) -> int:
        return max(self.capacity - self.enrolled, 0)

    @classmethod
    async def resolve_reference(cls, info: HubInfo, id: str) -> Course | None:
        """A gateway's reference: through the request's loader (one call per distinct course)."""
        found = await info.context.loaders.get(YouthLoaders).course_by_id.load(id)
        return course_of(found) if found else None


def course_of(c: m.Course) -> Course:
    return Course(
        id=strawberry.ID(c.id),
        name=c.name,
        category=c.category,
        term=c.term,
        age_min=c.age_min,
        age_max=c.age_max,
        schedule=Schedule(weekday=c.schedule.weekday, start=c.schedule.start, end=c.schedule.end),
        start_date=c.start_date,
        sessions=c.sessions,
        venue=c.venue,
        teacher=c.teacher,
        fee=Money(fen=c.fee_fen),
        material_fee=Money(fen=c.material_fee_fen),
        capacity=c.capacity,
        enrolled=c.enrolled,
        mode=EnrollmentMode(c.mode.value),
        prereg_open=c.prereg_open,
        prereg_close=c.prereg_close,
        lottery_at=c.lottery_at,
        status=CourseStatus(c.status.value),
    )


@strawberry.type(description="A child's application for a course.")
class CourseApplication:
    id: strawberry.ID
    state: ApplicationState
    preference_rank: int
    waitlist_number: int | None
    pay_deadline: dt.datetime | None = strawberry.field(description="Pay by then or lose the seat.")
    amount: Money = strawberry.field(description="Fee plus material fee.")
    created_at: dt.datetime
    course: Course | None = strawberry.field(description="Null if the course is gone upstream.")


async def applications_with_courses(
    info: HubInfo, applications: Sequence[m.Application]
) -> list[CourseApplication]:
    """Attach each application's course, one load per distinct course (cached across requests)."""
    loader = info.context.loaders.get(YouthLoaders).course_by_id
    courses = await loader.load_many([a.course_id for a in applications])
    return [application_of(a, c) for a, c in zip(applications, courses, strict=True)]


def application_of(a: m.Application, course: m.Course | None) -> CourseApplication:
    return CourseApplication(
        id=strawberry.ID(a.id),
        state=ApplicationState(a.state.value),
        preference_rank=a.preference_rank,
        waitlist_number=a.waitlist_number,
        pay_deadline=a.pay_deadline,
        amount=Money(fen=a.amount_fen),
        created_at=a.created_at,
        course=course_of(course) if course else None,
    )


@strawberry.input(description="Filters for the course list; omitted fields match any.")
class CourseFilter:
    term: str | None = None
    category: str | None = strawberry.field(default=None, description="文艺/书画/科技/器乐/体育")
    age: int | None = strawberry.field(default=None, description="Courses open to this age.")
    status: CourseStatus | None = None
    text: str | None = strawberry.field(default=None, description="Words in the course name.")


@strawberry.type(description="A course edge in a list.")
class CourseEdge:
    cursor: str
    node: Course


@strawberry.type(description="A page of courses.")
class CourseConnection:
    edges: list[CourseEdge]
    page_info: PageInfo
    total_count: int


def _filter(given: CourseFilter | None) -> m.CourseFilter:
    if given is None:
        return m.CourseFilter()
    if given.age is not None and not 0 <= given.age <= 18:
        raise BadUserInput("`age` must be between 0 and 18.", field="filter.age")
    return m.CourseFilter(
        term=given.term,
        category=given.category,
        age=given.age,
        status=m.CourseStatus(given.status.value) if given.status else None,
        text=(given.text or "").strip() or None,
    )


@strawberry.type(
    description="青少年活动中心 · "
    "The youth activity center: courses open to the district's children."
)
class YouthCenter:
    @strawberry.field(description="Courses, optionally filtered.")
    async def courses(
        self,
        info: HubInfo,
        filter: CourseFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> CourseConnection | None:
        limit, offset = check_first(first), decode_cursor("course", after)
        page = await info.context.loaders.get(YouthLoaders).connector.courses_slice(
            _filter(filter), offset=offset, limit=limit
        )
        edges = [
            CourseEdge(cursor=encode_cursor("course", offset + i), node=course_of(course))
            for i, course in enumerate(page.courses)
        ]
        return CourseConnection(
            edges=edges,
            page_info=page_info("course", offset, len(edges), page.total),
            total_count=page.total,
        )

    @strawberry.field(description="One course by id, or null if unknown.")
    async def course(self, info: HubInfo, id: strawberry.ID) -> Course | None:
        found = await info.context.loaders.get(YouthLoaders).course_by_id.load(str(id))
        return course_of(found) if found else None


@strawberry.type
class YouthQuery:
    @strawberry.field(
        description="青少年活动中心课程 · "
        "The youth activity center's courses. Public: no token needed."
    )
    def youth_center(self) -> YouthCenter | None:
        return YouthCenter()
