"""The seeded history: applications replayed through the real rules, up to today.

Random children apply to courses that fit their age, pay or not, cancel now and then; lotteries
draw when the history passes their ``lottery_at``. Replaying through ``Enrollment`` keeps seat
counts, waitlist numbers and states consistent. Random actions stop an hour before today began;
only household H0003's fixture reaches later (see ``_fixture_actions``).
"""

from __future__ import annotations

import bisect
import random
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from mocks.youth.catalogue import PINNED_MEMBERS, Course, Member, build_courses, build_members
from mocks.youth.clock import at
from mocks.youth.enrollment import Enrollment, Refusal

CHANNELS = ("wechat", "alipay", "unionpay")
# applicants as a share of capacity, per scenario
DEMAND = {
    "closed": (0.5, 1.0),
    "enrolling": (0.2, 0.8),
    "early": (0.1, 0.5),
    "drawn": (0.7, 2.2),
    "prereg": (0.2, 1.2),
}
# scenario and slot of each fixture course of household H0003
FIXTURE = {
    "A": ("enrolling", 0),
    "B": ("enrolling", 1),
    "G": ("enrolling", 2),
    "H": ("enrolling", 3),
    "C": ("drawn", 0),
    "E": ("prereg", 0),
    "F": ("full", 0),
}
FIXTURE_CHILDREN = {
    "A": ("Y00031",),
    "B": ("Y00031",),
    "G": ("Y00031",),
    "H": ("Y00032",),
    "C": ("Y00032", "Y00033"),
    "E": ("Y00032",),
    "F": ("Y00033",),
}


@dataclass(frozen=True, order=True)
class Action:
    """Something a family did at the center at ``when`` (``kind``: apply, pay or cancel)."""

    when: datetime
    order: int
    kind: str
    course_id: str
    member_no: str
    rank: int = 1


def build_enrollment(seed: int, today: date, started: datetime) -> Enrollment:
    """The catalogue, the members and their history, as of ``started`` on ``today``."""
    root = random.Random(seed)
    courses = build_courses(random.Random(root.getrandbits(64)), today)
    members = build_members(random.Random(root.getrandbits(64)), today)
    rng = random.Random(root.getrandbits(64))
    courses, fixture = _fit_fixture(courses, members)
    engine = Enrollment(seed, courses, members)
    cutoff = at(today) - timedelta(hours=1)
    pool = sorted((m.birth_date, m.member_no) for m in members if m.member_no not in PINNED_MEMBERS)
    by_no = {m.member_no: m for m in members}
    actions = _fixture_actions(fixture, at(today), started)
    for course in courses:
        eligible = _eligible(course, pool, by_no)
        actions.extend(_course_actions(course, eligible, rng, cutoff, course in fixture.values()))
    tagged = sorted(replace(action, order=n) for n, action in enumerate(actions))
    for action in tagged:
        _perform(engine, action, rng)
    return engine


def _fit_fixture(
    courses: list[Course], members: list[Member]
) -> tuple[list[Course], dict[str, Course]]:
    """Pick H0003's courses and widen their age windows to take the pinned children."""
    births = {m.member_no: m for m in members if m.member_no in PINNED_MEMBERS}
    slots = {(c.scenario, c.slot): i for i, c in enumerate(courses)}
    fixture: dict[str, Course] = {}
    for label, slot in FIXTURE.items():
        course = courses[slots[slot]]
        ages = [births[no].age_on(course.start_date) for no in FIXTURE_CHILDREN[label]]
        course = replace(
            course, age_min=min(course.age_min, *ages), age_max=max(course.age_max, *ages)
        )
        courses[slots[slot]] = fixture[label] = course
    return courses, fixture


def _fixture_actions(
    fixture: dict[str, Course], today: datetime, started: datetime
) -> list[Action]:
    """H0003's eight states over seven courses.

    Y00031: ENROLLED in A, OFFERED in B (applied two minutes before start-up, so the deadline
    is live), CANCELLED with a refund in G. Y00032: EXPIRED in H, WON in lottery C, APPLIED in
    lottery E. Y00033: LOST in C (second choice), WAITLISTED in full course F.
    """
    day, hour, minute = timedelta(days=1), timedelta(hours=1), timedelta(minutes=1)
    lottery_c = fixture["C"]
    script = [
        ("apply", "A", "Y00031", today - 2 * day + 10 * hour),
        ("pay", "A", "Y00031", None),
        ("apply", "B", "Y00031", started - 2 * minute),
        ("apply", "G", "Y00031", today - 3 * day + 15 * hour),
        ("pay", "G", "Y00031", None),
        ("cancel", "G", "Y00031", today - day + 9 * hour),
        ("apply", "H", "Y00032", today - 2 * day + 16 * hour),
        ("apply", "C", "Y00032", lottery_c.prereg_close - day),
        ("apply", "C", "Y00033", lottery_c.prereg_close - day + minute),
        ("apply", "E", "Y00032", today - day + 12 * hour),
        ("apply", "F", "Y00033", today - 30 * minute),
    ]
    actions: list[Action] = []
    for kind, label, member_no, when in script:
        moment = when if when is not None else actions[-1].when + 5 * minute
        rank = 2 if member_no == "Y00033" and label == "C" else 1
        actions.append(Action(moment, 0, kind, fixture[label].course_id, member_no, rank))
    return actions


def _eligible(course: Course, pool: list[tuple[date, str]], by_no: dict[str, Member]) -> list[str]:
    start = course.start_date
    low = bisect.bisect_left(pool, (date(start.year - course.age_max - 2, 1, 1), ""))
    high = bisect.bisect_right(pool, (date(start.year - course.age_min + 1, 1, 1), ""))
    return [
        no
        for _, no in pool[low:high]
        if course.age_min <= by_no[no].age_on(start) <= course.age_max
    ]


def _course_actions(
    course: Course, eligible: list[str], rng: random.Random, cutoff: datetime, fixture: bool
) -> list[Action]:
    """Random families applying to one course, paying (or not), sometimes cancelling."""
    if course.scenario == "full":
        wanted = course.capacity + rng.randint(1, 6)
    elif course.scenario in DEMAND:
        low, high = DEMAND[course.scenario]
        wanted = round(course.capacity * rng.uniform(low, high))
    else:
        return []
    if fixture and course.scenario == "drawn":
        wanted = max(wanted, course.capacity + 3)
    applicants = rng.sample(eligible, min(wanted, len(eligible)))
    closes = course.prereg_close if course.lottery_at else course.starts_at
    span = (min(closes, cutoff - timedelta(hours=1)) - course.prereg_open).total_seconds()
    times = sorted(course.prereg_open + timedelta(seconds=rng.uniform(0, span)) for _ in applicants)
    plan = _lottery_plan if course.lottery_at else _first_come_plan
    actions: list[Action] = []
    for i, (member_no, when) in enumerate(zip(applicants, times, strict=True)):
        for kind, moment, rank in plan(course, i, when, rng, fixture):
            actions.append(Action(moment, 0, kind, course.course_id, member_no, rank))
    return [action for action in actions if action.when < cutoff]


Plan = list[tuple[str, datetime, int]]


def _first_come_plan(
    course: Course, i: int, when: datetime, rng: random.Random, fixture: bool
) -> Plan:
    """Most pay within minutes; a few never pay (EXPIRED); a few pay and later cancel.

    In a ``full`` course the first ``capacity`` pay and the rest stay on the waitlist."""
    paid = when + rng.randint(1, 25) * timedelta(minutes=1)
    if course.scenario == "full":
        return [("apply", when, 1)] + ([("pay", paid, 1)] if i < course.capacity else [])
    roll = rng.random()
    plan: Plan = [("apply", when, 1)]
    if roll < 0.95:
        plan.append(("pay", paid, 1))
    if 0.85 <= roll < 0.95 and not fixture:
        plan.append(("cancel", paid + rng.randint(1, 10) * timedelta(days=1), 1))
    return plan


def _lottery_plan(
    course: Course, i: int, when: datetime, rng: random.Random, fixture: bool
) -> Plan:
    """Winners mostly pay the day of the draw; offers from the waitlist two days later.

    A fixture lottery gets exactly ``capacity - 1`` first choices besides H0003's, so its
    first choice wins and its second choice loses whatever the shuffle."""
    if fixture:
        rank = 1 if i < course.capacity - 1 else rng.choice((2, 3))
    else:
        rank = rng.choice((1, 1, 1, 2, 2, 3))
    drawn, hour = course.lottery_at or when, timedelta(hours=1)
    plan: Plan = [("apply", when, rank)]
    if rng.random() < 0.85:
        plan.append(("pay", drawn + rng.randint(1, 12) * hour, rank))
    if rng.random() < 0.7:
        plan.append(("pay", drawn + rng.randint(49, 90) * hour, rank))
    if rng.random() < 0.03 and not fixture:
        plan.append(("cancel", drawn + rng.randint(20, 47) * hour, rank))
    return plan


def _perform(engine: Enrollment, action: Action, rng: random.Random) -> None:
    try:
        if action.kind == "apply":
            engine.apply(action.course_id, action.member_no, action.rank, action.when)
            return
        app = engine.live.get((action.member_no, action.course_id))
        if app is None:
            return
        if action.kind == "pay":
            ref = f"P{action.when:%Y%m%d%H%M}{rng.randrange(10**6):06d}"
            engine.pay(app.application_id, app.amount_fen, rng.choice(CHANNELS), ref, action.when)
        else:
            engine.cancel(app.application_id, action.when)
    except Refusal:
        return
