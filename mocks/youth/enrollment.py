"""Applications and their state machine: apply, pay, cancel, expiry, lottery, waitlist.

Every operation takes the moment it happens at, so the seed history can replay the past through
the same rules. Time-driven changes are lazy: ``settle`` runs whatever fell due on a course (the
draw, expiries, the offers that follow) at the moment it fell due, whenever the course is next
touched. Choices where the center's documentation is silent:

- ``enrolled`` counts seats held: ENROLLED plus unpaid OFFERED and WON.
- An unpaid OFFERED/WON expires at its ``pay_deadline`` (first-come: 30 minutes after the offer;
  lottery: 48 hours after the draw or the offer). The freed seat goes to the lowest live
  ``waitlist_no`` (WAITLISTED or LOST) as OFFERED, until the course starts.
- A first-come waitlist holds at most ``WAITLIST_CAP`` live entries; past that, ``course_full``.
- Lottery courses take applications only between ``prereg_open`` and ``prereg_close``;
  first-come courses from ``prereg_open`` until the course starts. Otherwise ``not_open``.
- Paying or cancelling an application in a state that does not allow it is
  ``409 invalid_state``. Cancelling a paid seat before the course starts refunds it in full.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby

from mocks.youth.catalogue import FIRST_COME, LOTTERY, Course, Member
from mocks.youth.clock import FAR_FUTURE

FIRST_COME_PAY_WINDOW = timedelta(minutes=30)
LOTTERY_PAY_WINDOW = timedelta(hours=48)
WAITLIST_CAP = 10
PREFERENCE_RANKS = range(1, 4)
LIVE_STATES = frozenset({"APPLIED", "WON", "LOST", "WAITLISTED", "OFFERED", "ENROLLED"})
HOLDING_STATES = frozenset({"OFFERED", "WON"})


class Refusal(Exception):
    """A business refusal: the HTTP status and the error code the center answers with."""

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(eq=False)
class Application:
    """One member's application for one course."""

    application_id: str
    course_id: str
    member_no: str
    preference_rank: int
    state: str
    amount_fen: int
    created_at: datetime
    waitlist_no: int | None = None
    pay_deadline: datetime | None = None
    paid_at: datetime | None = None
    channel: str | None = None
    payment_ref: str | None = None
    refund_fen: int | None = None


@dataclass(eq=False)
class CourseBook:
    """A course and the applications that hold, wait for or compete for its seats."""

    course: Course
    enrolled: int = 0
    holding: dict[str, Application] = field(default_factory=dict)
    waiting: list[Application] = field(default_factory=list)
    applied: list[Application] = field(default_factory=list)
    drawn: bool = False
    last_waitlist_no: int = 0
    due_at: datetime = FAR_FUTURE

    @property
    def seats_taken(self) -> int:
        return self.enrolled + len(self.holding)

    def status(self, now: datetime) -> str:
        """PRE_REG, DRAWN, ENROLLING, FULL or CLOSED at ``now`` (call after settling)."""
        course = self.course
        if now >= course.starts_at:
            return "CLOSED"
        if course.mode == LOTTERY and not self.drawn:
            return "PRE_REG"
        if course.mode == FIRST_COME and now < course.prereg_open:
            return "PRE_REG"
        if self.seats_taken >= course.capacity:
            return "FULL"
        return "DRAWN" if course.mode == LOTTERY else "ENROLLING"


class Enrollment:
    """All courses, members and applications of one mock instance, indexed for O(1) lookups."""

    def __init__(self, seed: int, courses: Iterable[Course], members: Iterable[Member]) -> None:
        self.seed = seed
        self.books = {course.course_id: CourseBook(course) for course in courses}
        self.members = {member.member_no: member for member in members}
        self.applications: dict[str, Application] = {}
        self.by_member: dict[str, list[Application]] = {}
        self.live: dict[tuple[str, str], Application] = {}
        for book in self.books.values():
            self._reschedule(book)

    def book(self, course_id: str, now: datetime) -> CourseBook:
        """The course's book, settled up to ``now``."""
        book = self.books.get(course_id)
        if book is None:
            raise Refusal("not_found", f"course {course_id} does not exist", 404)
        if now >= book.due_at:
            self._settle(book, now)
        return book

    def application(self, application_id: str, now: datetime) -> tuple[Application, CourseBook]:
        app = self.applications.get(application_id)
        if app is None:
            raise Refusal("not_found", f"application {application_id} does not exist", 404)
        return app, self.book(app.course_id, now)

    def applications_of(self, member_no: str, now: datetime) -> list[Application]:
        if member_no not in self.members:
            raise Refusal("not_found", f"member {member_no} does not exist", 404)
        apps = self.by_member.get(member_no, [])
        for course_id in {app.course_id for app in apps}:
            self.book(course_id, now)
        return list(apps)

    def apply(self, course_id: str, member_no: str, rank: int, now: datetime) -> Application:
        book = self.book(course_id, now)
        course = book.course
        member = self.members.get(member_no)
        if member is None:
            raise Refusal("not_found", f"member {member_no} does not exist", 404)
        if (member_no, course_id) in self.live:
            raise Refusal("already_applied", "该学员已报名此课程")
        if not course.age_min <= member.age_on(course.start_date) <= course.age_max:
            raise Refusal("age_not_eligible", f"年龄须在{course.age_min}至{course.age_max}岁之间")
        closes = course.prereg_close if course.mode == LOTTERY else course.starts_at
        if not course.prereg_open <= now < closes:
            raise Refusal("not_open", "当前不在报名时间内")
        app = Application(
            application_id=f"YA{len(self.applications) + 1:08d}",
            course_id=course_id,
            member_no=member_no,
            preference_rank=rank,
            state="APPLIED",
            amount_fen=course.amount_fen,
            created_at=now,
        )
        if course.mode == LOTTERY:
            book.applied.append(app)
        elif book.seats_taken < course.capacity:
            self._offer(book, app, now)
        elif len(book.waiting) < WAITLIST_CAP:
            self._enqueue(book, app, "WAITLISTED")
        else:
            raise Refusal("course_full", "名额已满，候补名单已满")
        self.applications[app.application_id] = app
        self.by_member.setdefault(member_no, []).append(app)
        self.live[(member_no, course_id)] = app
        self._reschedule(book)
        return app

    def pay(
        self, application_id: str, amount_fen: int, channel: str, ref: str, now: datetime
    ) -> Application:
        app, book = self.application(application_id, now)
        if app.state == "EXPIRED":
            raise Refusal("payment_expired", "已超过缴费期限")
        if app.state not in HOLDING_STATES:
            raise Refusal("invalid_state", f"application is {app.state}, not payable")
        if amount_fen != app.amount_fen:
            raise Refusal("amount_mismatch", f"应缴金额为{app.amount_fen}分")
        del book.holding[app.application_id]
        book.enrolled += 1
        app.state, app.paid_at, app.channel, app.payment_ref = "ENROLLED", now, channel, ref
        self._reschedule(book)
        return app

    def cancel(self, application_id: str, now: datetime) -> Application:
        app, book = self.application(application_id, now)
        if app.state not in LIVE_STATES:
            raise Refusal("invalid_state", f"application is already {app.state}")
        if app.state == "ENROLLED":
            book.enrolled -= 1
            app.refund_fen = app.amount_fen if now < book.course.starts_at else 0
        elif app.state in HOLDING_STATES:
            del book.holding[app.application_id]
        elif app.state == "APPLIED":
            book.applied.remove(app)
        else:
            book.waiting.remove(app)
        self._close(app, "CANCELLED")
        self._promote(book, now)
        self._reschedule(book)
        return app

    def _settle(self, book: CourseBook, now: datetime) -> None:
        course = book.course
        if course.lottery_at is not None and not book.drawn and course.lottery_at <= now:
            self._draw(book, course.lottery_at)
        while book.holding:
            app = min(book.holding.values(), key=_deadline)
            if _deadline(app) > now:
                break
            del book.holding[app.application_id]
            self._close(app, "EXPIRED")
            self._promote(book, _deadline(app))
        self._reschedule(book)

    def _draw(self, book: CourseBook, drawn_at: datetime) -> None:
        """Rank 1 before rank 2 before rank 3; within a rank, a shuffle seeded by the course."""
        rng = random.Random(f"{self.seed}:{book.course.course_id}")
        ranked = sorted(book.applied, key=lambda app: (app.preference_rank, app.member_no))
        order: list[Application] = []
        for _, group in groupby(ranked, key=lambda app: app.preference_rank):
            tier = list(group)
            rng.shuffle(tier)
            order.extend(tier)
        book.applied.clear()
        book.drawn = True
        for app in order:
            if book.seats_taken < book.course.capacity:
                self._offer(book, app, drawn_at, state="WON")
            else:
                self._enqueue(book, app, "LOST")

    def _offer(
        self, book: CourseBook, app: Application, now: datetime, state: str = "OFFERED"
    ) -> None:
        window = LOTTERY_PAY_WINDOW if book.course.mode == LOTTERY else FIRST_COME_PAY_WINDOW
        app.state, app.pay_deadline = state, now + window
        book.holding[app.application_id] = app

    def _enqueue(self, book: CourseBook, app: Application, state: str) -> None:
        book.last_waitlist_no += 1
        app.state, app.waitlist_no = state, book.last_waitlist_no
        book.waiting.append(app)

    def _promote(self, book: CourseBook, now: datetime) -> None:
        while book.waiting and book.seats_taken < book.course.capacity:
            if now >= book.course.starts_at:
                return
            self._offer(book, book.waiting.pop(0), now)

    def _close(self, app: Application, state: str) -> None:
        app.state = state
        self.live.pop((app.member_no, app.course_id), None)

    def _reschedule(self, book: CourseBook) -> None:
        due = FAR_FUTURE
        if book.course.lottery_at is not None and not book.drawn:
            due = book.course.lottery_at
        if book.holding:
            due = min(due, min(_deadline(app) for app in book.holding.values()))
        book.due_at = due


def _deadline(app: Application) -> datetime:
    return app.pay_deadline or FAR_FUTURE
