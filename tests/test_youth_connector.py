"""The youth-center connector against the real youth mock, over loopback HTTP.

Writes use members of households H0401–H0500 (no other test's households) and a fresh
Idempotency-Key each, since the mock runs for the whole session and remembers every key.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import aiohttp
import httpx
import pytest

from connectors.base import DepartmentPolicy
from connectors.errors import (
    Refused,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.youth import YouthConnector, YouthLoaders
from connectors.youth.models import (
    Application,
    ApplicationState,
    Course,
    CourseFilter,
    CourseStatus,
    EnrollmentMode,
    PaymentChannel,
)
from mocks.common.people import children_member_nos
from tests.support import BackgroundMocks, MockAdmin

API_KEY = "dev-youth-key"
COURSE = "GET /api/v1/courses/{course_id}"
COURSES = "GET /api/v1/courses"
APPLY = "POST /api/v1/applications"
DEFAULT_LIMIT = 20
OUR_HOUSEHOLDS = range(401, 501)
LIVE = frozenset(ApplicationState) - {ApplicationState.CANCELLED, ApplicationState.EXPIRED}


@dataclass
class YouthAdmin(MockAdmin):
    """The youth mock's own admin calls besides stats and faults."""

    def clock(self, offset_seconds: float) -> None:
        body = {"offset_seconds": offset_seconds}
        httpx.post(f"{self.url}/__admin/clock", json=body).raise_for_status()

    def rate_limit(self, per_second: int) -> None:
        body = {"per_second": per_second}
        httpx.post(f"{self.url}/__admin/rate-limit", json=body).raise_for_status()


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def youth(mocks: BackgroundMocks) -> Iterator[YouthAdmin]:
    """The youth mock with no faults, its own clock, counters zeroed, the limit out of the way."""
    admin = YouthAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.clock(0)
    admin.rate_limit(100_000)
    admin.reset()
    yield admin
    admin.clear_faults()
    admin.clock(0)
    admin.rate_limit(DEFAULT_LIMIT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def policy(url: str, **overrides: Any) -> DepartmentPolicy:
    settings: dict[str, Any] = {"timeout_s": 5.0, "cache_ttl_s": 30.0}
    settings.update(overrides)
    settings.setdefault("credentials", {"api_key": API_KEY})
    return DepartmentPolicy(base_url=url, **settings)


@pytest.fixture
async def connector(youth: YouthAdmin, clock: FakeClock) -> AsyncIterator[YouthConnector]:
    async with aiohttp.ClientSession() as session:
        yield YouthConnector(session, policy(youth.url), clock=clock)


def key() -> str:
    return f"test-youth-{uuid.uuid4().hex}"


async def every_course(connector: YouthConnector, wanted: CourseFilter) -> list[Course]:
    found: list[Course] = []
    for page in range(1, 100):
        got = await connector.courses(wanted, page=page, page_size=50)
        found.extend(got.courses)
        if len(found) >= got.total or not got.courses:
            break
    return found


async def h0003_courses(connector: YouthConnector) -> set[str]:
    """The courses of household H0003's fixture, which only read-only tests may touch."""
    children = ("Y00031", "Y00032", "Y00033")
    return {app.course_id for no in children for app in await connector.applications(no)}


async def courses_open_to_us(
    connector: YouthConnector, status: CourseStatus = CourseStatus.ENROLLING
) -> list[Course]:
    """First-come courses in ``status`` outside H0003's fixture, most free seats first."""
    fixture = await h0003_courses(connector)
    courses = await every_course(connector, CourseFilter(status=status))
    ours = [c for c in courses if c.mode is EnrollmentMode.FIRST_COME and c.id not in fixture]
    return sorted(ours, key=lambda c: (c.enrolled - c.capacity, c.id))


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


async def members_for(
    connector: YouthConnector, course: Course, *, fits: bool = True
) -> AsyncIterator[str]:
    """Members of our households whose age at the course's start fits it (or not)."""
    for household in OUR_HOUSEHOLDS:
        for member_no in children_member_nos(household):
            member = await connector.member(member_no)
            assert member is not None
            age = age_on(member.birth_date, course.start_date)
            if (course.age_min <= age <= course.age_max) == fits:
                yield member_no


async def free_member(connector: YouthConnector, course: Course) -> str:
    """An eligible member of our households with no live application for the course."""
    async for member_no in members_for(connector, course):
        apps = await connector.applications(member_no)
        if not any(a.course_id == course.id and a.state in LIVE for a in apps):
            return member_no
    raise AssertionError("no eligible member left")


async def apply_fresh(connector: YouthConnector, course: Course) -> Application:
    member_no = await free_member(connector, course)
    return await connector.apply(course.id, member_no, 1, idempotency_key=key())


async def fetch_course(connector: YouthConnector, course_id: str) -> Course:
    found = await connector.course(course_id)
    assert found is not None
    return found


async def refusal_code(call: Any) -> str:
    with pytest.raises(Refused) as raised:
        await call
    assert raised.value.department == "youth"
    return raised.value.code


async def test_courses_page_through_the_catalogue_and_filter(connector: YouthConnector) -> None:
    first = await connector.courses(CourseFilter(), page=1, page_size=20)
    second = await connector.courses(CourseFilter(), page=2, page_size=20)
    assert (first.total, len(first.courses), len(second.courses)) == (300, 20, 20)
    assert {c.id for c in first.courses}.isdisjoint(c.id for c in second.courses)
    everything = await every_course(connector, CourseFilter())
    assert len({c.id for c in everything}) == 300
    for wanted, check in (
        (CourseFilter(term=everything[0].term), lambda c: c.term == everything[0].term),
        (CourseFilter(category="书画"), lambda c: c.category == "书画"),
        (CourseFilter(age=6), lambda c: c.age_min <= 6 <= c.age_max),
        (CourseFilter(status=CourseStatus.FULL), lambda c: c.status is CourseStatus.FULL),
        (CourseFilter(text="钢琴"), lambda c: "钢琴" in c.name or "钢琴" in c.teacher),
    ):
        found = await every_course(connector, wanted)
        assert found and all(check(c) for c in found), wanted
        assert len(found) == sum(1 for c in everything if check(c)), wanted
    with pytest.raises(ValueError):
        await connector.courses(CourseFilter(), page=1, page_size=51)


async def test_courses_slice_crosses_upstream_pages(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    whole = (await connector.courses(CourseFilter(), page=1, page_size=50)).courses
    following = (await connector.courses(CourseFilter(), page=2, page_size=50)).courses
    youth.reset()
    aligned = await connector.courses_slice(CourseFilter(), offset=20, limit=10)
    assert (aligned.total, aligned.courses) == (300, whole[20:30])
    assert youth.calls(COURSES) == 1
    crossing = await connector.courses_slice(CourseFilter(), offset=45, limit=50)
    assert crossing.courses == whole[45:] + following[:45]
    assert youth.calls(COURSES) == 3


async def test_concurrent_reads_of_one_course_share_one_call(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    course_id = (await connector.courses(CourseFilter(), page=3, page_size=1)).courses[0].id
    answers = await asyncio.gather(*(connector.course(course_id) for _ in range(20)))
    assert answers[0] is not None and answers[0].id == course_id
    assert answers == [answers[0]] * 20
    assert youth.calls(COURSE) == 1


async def test_distinct_courses_fan_out_once_each_and_stay_cached_for_the_ttl(
    connector: YouthConnector, youth: YouthAdmin, clock: FakeClock
) -> None:
    # given five course ids, asked for with repeats in one request
    ids = [c.id for c in (await connector.courses(CourseFilter(), page=2, page_size=5)).courses]
    found = await YouthLoaders(connector).course_by_id.load_many([*ids, ids[0], ids[3]])
    # then each was fetched once
    assert [c.id if c else None for c in found] == [*ids, ids[0], ids[3]]
    assert youth.calls(COURSE) == 5
    # when a later request asks within the TTL, no call
    clock.now += 20
    assert await YouthLoaders(connector).course_by_id.load_many(ids) == found[:5]
    assert youth.calls(COURSE) == 5
    # when the TTL has passed, a new call
    clock.now += 20
    assert await YouthLoaders(connector).course_by_id.load(ids[0]) == found[0]
    assert youth.calls(COURSE) == 6


async def test_unknown_course_and_member_are_none_and_not_cached(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    assert await connector.course("YC2099S-9999") is None
    assert await connector.course("YC2099S-9999") is None
    assert youth.answers(COURSE, 404) == 2
    assert await connector.member("Y99999") is None
    assert await connector.applications("Y99999") == ()


async def test_household_h0003_members_applications_and_their_courses(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    loaders = YouthLoaders(connector)
    children = ["Y00031", "Y00032", "Y00033"]
    members = await loaders.member_by_no.load_many(children)
    assert [m.guardian_resident_id if m else None for m in members] == ["R000005"] * 3
    apps = dict(
        zip(children, await loaders.applications_by_member.load_many(children), strict=True)
    )
    states = {no: sorted(a.state.value for a in found) for no, found in apps.items()}
    # Y00031's offer was made two minutes before the mock started: a long session expires it
    assert states["Y00031"] in (
        ["CANCELLED", "ENROLLED", "OFFERED"],
        ["CANCELLED", "ENROLLED", "EXPIRED"],
    )
    assert states["Y00032"] == ["APPLIED", "EXPIRED", "WON"]
    assert states["Y00033"] == ["LOST", "WAITLISTED"]
    by_state = {a.state: a for found in apps.values() for a in found}
    won, lost = by_state[ApplicationState.WON], by_state[ApplicationState.LOST]
    assert won.course_id == lost.course_id
    assert won.pay_deadline is not None and won.pay_deadline.utcoffset() == timedelta(hours=8)
    assert lost.waitlist_number is not None and lost.waitlist_number >= 1
    assert by_state[ApplicationState.APPLIED].pay_deadline is None
    # when a resolver shows each application's course: one call per distinct course
    youth.reset()
    course_ids = [a.course_id for found in apps.values() for a in found]
    courses = await loaders.course_by_id.load_many(course_ids)
    assert [c.id if c else None for c in courses] == course_ids
    assert youth.calls(COURSE) == len(set(course_ids)) == 7


async def test_apply_offers_a_first_come_place_then_pay_and_cancel(
    connector: YouthConnector,
) -> None:
    course = (await courses_open_to_us(connector))[0]
    offer = await apply_fresh(connector, course)
    assert (offer.state, offer.course_id) == (ApplicationState.OFFERED, course.id)
    assert offer.amount_fen == course.fee_fen + course.material_fee_fen
    assert offer.pay_deadline == offer.created_at + timedelta(minutes=30)
    assert (await fetch_course(connector, course.id)).enrolled == course.enrolled + 1

    short = connector.pay(
        offer.id, offer.amount_fen - 100, PaymentChannel.WECHAT, "WX1", idempotency_key=key()
    )
    assert await refusal_code(short) == "AMOUNT_MISMATCH"
    paid = await connector.pay(
        offer.id, offer.amount_fen, PaymentChannel.ALIPAY, f"ALI{offer.id}", idempotency_key=key()
    )
    assert (paid.id, paid.state) == (offer.id, ApplicationState.ENROLLED)
    cancelled = await connector.cancel(offer.id, idempotency_key=key())
    assert cancelled.state is ApplicationState.CANCELLED
    assert await refusal_code(connector.cancel(offer.id, idempotency_key=key())) == "INVALID_STATE"


async def test_the_same_idempotency_key_twice_is_one_side_effect(
    connector: YouthConnector,
) -> None:
    # given a member free to apply
    course = (await courses_open_to_us(connector))[1]
    member_no = await free_member(connector, course)
    before = {a.id for a in await connector.applications(member_no)}
    # when the same application is sent twice under one key
    same = key()
    first = await connector.apply(course.id, member_no, 1, idempotency_key=same)
    again = await connector.apply(course.id, member_no, 1, idempotency_key=same)
    # then one application, one seat, the same answer
    assert again == first
    assert [a for a in await connector.applications(member_no) if a.id not in before] == [first]
    assert (await fetch_course(connector, course.id)).enrolled == course.enrolled + 1
    pay_key = key()
    paid = await connector.pay(
        first.id, first.amount_fen, PaymentChannel.UNIONPAY, "UP1", idempotency_key=pay_key
    )
    repeat = await connector.pay(
        first.id, first.amount_fen, PaymentChannel.UNIONPAY, "UP1", idempotency_key=pay_key
    )
    assert repeat == paid and paid.state is ApplicationState.ENROLLED
    # and the key reused for another request is the hub's bug, not a refusal
    with pytest.raises(UpstreamRejected) as raised:
        await connector.apply(course.id, member_no, 2, idempotency_key=same)
    assert raised.value.code == "idempotency_conflict"


async def test_each_refusal_has_its_domain_code(connector: YouthConnector) -> None:
    course = (await courses_open_to_us(connector))[2]
    offer = await apply_fresh(connector, course)
    again = connector.apply(course.id, offer.member_no, 1, idempotency_key=key())
    assert await refusal_code(again) == "ALREADY_APPLIED"
    too_old = await anext(members_for(connector, course, fits=False))
    wrong_age = connector.apply(course.id, too_old, 1, idempotency_key=key())
    assert await refusal_code(wrong_age) == "AGE_NOT_ELIGIBLE"

    upcoming = (await courses_open_to_us(connector, CourseStatus.PRE_REG))[0]
    early = await anext(members_for(connector, upcoming))
    closed = connector.apply(upcoming.id, early, 1, idempotency_key=key())
    assert await refusal_code(closed) == "NOT_OPEN"

    unknown = connector.cancel("YA99999999", idempotency_key=key())
    assert await refusal_code(unknown) == "NOT_FOUND"
    nowhere = connector.apply("YC2099S-9999", offer.member_no, 1, idempotency_key=key())
    assert await refusal_code(nowhere) == "NOT_FOUND"


async def test_a_full_course_waitlists_then_refuses(connector: YouthConnector) -> None:
    course = (await courses_open_to_us(connector, CourseStatus.FULL))[-1]
    waiting: list[Application] = []
    refused = None
    async for member_no in members_for(connector, course):
        try:
            waiting.append(await connector.apply(course.id, member_no, 1, idempotency_key=key()))
        except Refused as refusal:
            if refusal.code != "ALREADY_APPLIED":
                refused = refusal.code
                break
    assert refused == "COURSE_FULL"
    assert waiting and {a.state for a in waiting} == {ApplicationState.WAITLISTED}
    numbers = [a.waitlist_number or 0 for a in waiting]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) and numbers[0] >= 1


async def test_an_unpaid_offer_expires_after_30_minutes(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    course = (await courses_open_to_us(connector))[4]
    offer = await apply_fresh(connector, course)
    assert offer.state is ApplicationState.OFFERED
    try:
        youth.clock(31 * 60)
        late = connector.pay(
            offer.id, offer.amount_fen, PaymentChannel.WECHAT, "WX2", idempotency_key=key()
        )
        assert await refusal_code(late) == "PAYMENT_EXPIRED"
    finally:
        youth.clock(0)
    [mine] = [a for a in await connector.applications(offer.member_no) if a.id == offer.id]
    assert mine.state is ApplicationState.EXPIRED


async def test_a_wrong_api_key_is_rejected(youth: YouthAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = YouthConnector(session, policy(youth.url, credentials={"api_key": "nope"}))
        with pytest.raises(UpstreamRejected) as raised:
            await wrong.course("YC2026A-0001")
        assert (raised.value.code, raised.value.department) == ("unauthorized", "youth")
        with pytest.raises(UpstreamRejected):
            await wrong.apply("YC2026A-0001", "Y04011", 1, idempotency_key=key())
        assert wrong.health.status == "failing"


async def test_rate_limited_reads_and_writes_wait_and_succeed(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    # given everything the calls need, fetched at the normal limit
    course = (await courses_open_to_us(connector))[3]
    member_no = await free_member(connector, course)
    ids = [c.id for c in (await connector.courses(CourseFilter(), page=4, page_size=2)).courses]
    # when the center allows one call a second
    youth.rate_limit(1)
    youth.reset()
    started = time.perf_counter()
    first = await connector.course(ids[0])
    read, write = await asyncio.gather(
        connector.course(ids[1]), connector.apply(course.id, member_no, 1, idempotency_key=key())
    )
    # then every call got through by waiting out Retry-After
    assert first is not None and read is not None and read.id == ids[1]
    assert write.state in (ApplicationState.OFFERED, ApplicationState.WAITLISTED)
    assert youth.answers(COURSE, 429) + youth.answers(APPLY, 429) >= 1
    assert time.perf_counter() - started >= 1.0


async def test_rate_limit_gives_up_after_two_retries_or_the_time_budget(
    youth: YouthAdmin,
) -> None:
    youth.rate_limit(1)
    async with aiohttp.ClientSession() as session:
        patient = YouthConnector(session, policy(youth.url))
        tried = await asyncio.gather(
            *(patient.member(f"Y0{n:03d}1") for n in range(401, 405)), return_exceptions=True
        )
        failed = [t for t in tried if isinstance(t, BaseException)]
        assert failed and all(
            isinstance(t, UpstreamRejected) and t.code == "rate_limited" for t in failed
        )
        assert youth.total() <= 4 * 3, "at most two retries per call"

        hasty = YouthConnector(session, policy(youth.url, timeout_s=0.5))
        youth.reset()
        started = time.perf_counter()
        tried = await asyncio.gather(
            *(hasty.member(f"Y0{n:03d}1") for n in range(405, 409)), return_exceptions=True
        )
        assert any(isinstance(t, UpstreamRejected) and t.code == "rate_limited" for t in tried)
        assert youth.total() == 4, "a 1 s Retry-After does not fit a 0.5 s budget: no retry"
        assert time.perf_counter() - started < 1.0


async def test_down_upstream_is_unavailable(connector: YouthConnector, youth: YouthAdmin) -> None:
    youth.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.course("YC2026A-0001")
    with pytest.raises(UpstreamUnavailable):
        await connector.cancel("YA99999999", idempotency_key=key())
    assert connector.health.status == "failing"
    youth.clear_faults()
    assert await connector.course(
        (await connector.courses(CourseFilter(), page=1, page_size=1)).courses[0].id
    )
    assert connector.health.status == "ok"


async def test_garbage_body_is_a_payload_error(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    youth.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.courses(CourseFilter(), page=1, page_size=5)
    with pytest.raises(UpstreamPayloadError):
        await connector.member("Y00031")
    assert connector.health.status == "failing"


async def test_slow_upstream_times_out(youth: YouthAdmin) -> None:
    youth.faults(latency_ms=600)
    async with aiohttp.ClientSession() as session:
        slow = YouthConnector(session, policy(youth.url, timeout_s=0.2))
        with pytest.raises(UpstreamTimeout):
            await slow.member("Y00031")


async def test_max_concurrency_bounds_calls_in_flight(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    ids = [c.id for c in (await connector.courses(CourseFilter(), page=5, page_size=6)).courses]
    youth.faults(latency_ms=100)
    youth.reset()
    async with aiohttp.ClientSession() as session:
        narrow = YouthConnector(session, policy(youth.url, max_concurrency=2))
        started = time.perf_counter()
        found = await YouthLoaders(narrow).course_by_id.load_many(ids)
        elapsed = time.perf_counter() - started
    assert [c.id if c else None for c in found] == ids
    assert youth.calls(COURSE) == 6
    # six calls, two at a time, 100 ms each: three rounds at least (a lower bound only)
    assert elapsed >= 0.3


async def test_a_rate_limited_payment_is_never_sent_twice(
    connector: YouthConnector, youth: YouthAdmin
) -> None:
    # given an offered place
    course = (await courses_open_to_us(connector))[5]
    offered = await apply_fresh(connector, course)
    assert offered.state is ApplicationState.OFFERED
    # when the center is rate limiting as the payment goes out
    youth.rate_limit(1)
    await connector.member("Y04991")  # uses up this second's allowance
    youth.reset()
    with pytest.raises(UpstreamRejected) as raised:
        await connector.pay(
            offered.id, offered.amount_fen, PaymentChannel.WECHAT, "wx-429", idempotency_key=key()
        )
    # then the hub gave up rather than send the payment again
    assert raised.value.code == "rate_limited"
    assert youth.total() == 1
