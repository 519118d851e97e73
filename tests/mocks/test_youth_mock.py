"""The youth-center mock over real HTTP on loopback: auth, limits, rules, lottery, idempotency."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from mocks.common.launcher import MockSpec, RunningMocks, start_mocks
from mocks.common.people import children_member_nos
from mocks.youth import API_KEY

SPEC = MockSpec("youth", 0, "mocks.youth:create_app")
Json = dict[str, Any]
_keys = itertools.count(1)


@dataclass
class Youth:
    """A client for one running mock: the API key set, a fresh Idempotency-Key per write."""

    session: aiohttp.ClientSession
    url: str

    async def get(self, path: str, key: str | None = API_KEY) -> tuple[int, Json]:
        headers = {"X-Api-Key": key} if key else {}
        async with self.session.get(self.url + path, headers=headers) as response:
            return response.status, await response.json()

    async def post(
        self, path: str, body: Json | None = None, idem: str | None = "auto"
    ) -> tuple[int, Json]:
        status, _, payload = await self.post_raw(path, body, idem)
        return status, payload

    async def post_raw(
        self, path: str, body: Json | None = None, idem: str | None = "auto"
    ) -> tuple[int, str, Json]:
        headers = {"X-Api-Key": API_KEY}
        if idem is not None:
            headers["Idempotency-Key"] = f"test-{next(_keys)}" if idem == "auto" else idem
        async with self.session.post(self.url + path, json=body, headers=headers) as response:
            return response.status, await response.text(), await response.json()

    async def admin(self, path: str, body: Json) -> Json:
        async with self.session.post(self.url + "/__admin/" + path, json=body) as response:
            assert response.status == 200
            return await response.json()

    async def now(self) -> datetime:
        async with self.session.get(self.url + "/__admin/clock") as response:
            return datetime.fromisoformat((await response.json())["now"])

    async def move_clock_to(self, moment: datetime) -> None:
        async with self.session.get(self.url + "/__admin/clock") as response:
            clock = await response.json()
        now = datetime.fromisoformat(clock["now"])
        offset = clock["offset_seconds"] + (moment - now).total_seconds()
        await self.admin("clock", {"offset_seconds": offset})

    async def apply(self, course_id: str, member_no: str, rank: int = 1) -> tuple[int, Json]:
        body = {"course_id": course_id, "member_no": member_no, "preference_rank": rank}
        return await self.post("/api/v1/applications", body)

    async def pay(self, app: Json, amount: int | None = None) -> tuple[int, Json]:
        body = {
            "amount_fen": app["amount_fen"] if amount is None else amount,
            "channel": "wechat",
            "payment_ref": f"WX{app['application_id']}",
        }
        return await self.post(f"/api/v1/applications/{app['application_id']}/pay", body)

    async def applications(self, member_no: str) -> list[Json]:
        status, body = await self.get(f"/api/v1/members/{member_no}/applications")
        assert status == 200
        return list(body["items"])

    async def courses(self, query: str = "") -> list[Json]:
        found: list[Json] = []
        for page in itertools.count(1):
            status, body = await self.get(f"/api/v1/courses?page_size=50&page={page}&{query}")
            assert status == 200
            found.extend(body["items"])
            if len(found) >= body["total"]:
                return found
        raise AssertionError("unreachable")

    async def course(self, course_id: str) -> Json:
        status, body = await self.get(f"/api/v1/courses/{course_id}")
        assert status == 200
        return body

    async def candidates(self, course: Json, fits: bool = True) -> AsyncIterator[str]:
        """Members (outside the H0003 fixture) whose age at the start fits the course, or not."""
        start = date.fromisoformat(course["start_date"])
        for household in range(4, 501):
            for member_no in children_member_nos(household):
                _, member = await self.get(f"/api/v1/members/{member_no}")
                age = _age(date.fromisoformat(member["birth_date"]), start)
                if (course["age_min"] <= age <= course["age_max"]) == fits:
                    yield member_no

    async def apply_new(
        self, course: Json, count: int, rank: int = 1, skip: frozenset[str] = frozenset()
    ) -> list[Json]:
        """``count`` new applications by eligible members not yet applied to the course."""
        made: list[Json] = []
        async for member_no in self.candidates(course):
            if member_no in skip:
                continue
            status, body = await self.apply(course["course_id"], member_no, rank)
            if status == 409 and body["error"]["code"] == "already_applied":
                continue
            assert status == 200, body
            made.append(body)
            if len(made) == count:
                return made
        raise AssertionError("not enough eligible members")


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


async def _start() -> tuple[RunningMocks, aiohttp.ClientSession, Youth]:
    running = await start_mocks([SPEC], ports={"youth": 0})
    session = aiohttp.ClientSession()
    return running, session, Youth(session, running.urls["youth"])


@pytest.fixture
async def strict() -> AsyncIterator[Youth]:
    """A fresh mock with its default limit of 20 calls a second."""
    running, session, youth = await _start()
    try:
        yield youth
    finally:
        await session.close()
        await running.stop()


@pytest.fixture
async def youth(strict: Youth) -> Youth:
    """A fresh mock with the call limit raised out of the way."""
    await strict.admin("rate-limit", {"per_second": 100_000})
    return strict


async def _first(youth: Youth, query: str, mode: str) -> Json:
    return next(c for c in await youth.courses(query) if c["mode"] == mode)


async def test_missing_or_wrong_api_key_is_401(strict: Youth) -> None:
    for key in (None, "wrong-key"):
        status, body = await strict.get("/api/v1/courses", key=key)
        assert status == 401
        assert body["error"]["code"] == "unauthorized"
    async with strict.session.post(strict.url + "/api/v1/applications", json={}) as response:
        assert response.status == 401
    async with strict.session.get(strict.url + "/__admin/stats") as response:
        assert response.status == 200


async def test_more_than_20_calls_a_second_get_429_until_the_limit_is_raised(
    strict: Youth,
) -> None:
    async def call() -> tuple[int, str | None, Json]:
        headers = {"X-Api-Key": API_KEY}
        async with strict.session.get(strict.url + "/api/v1/courses/YC0", headers=headers) as r:
            return r.status, r.headers.get("Retry-After"), await r.json()

    answers = await asyncio.gather(*(call() for _ in range(25)))
    assert sorted(status for status, _, _ in answers) == [404] * 20 + [429] * 5
    for status, retry_after, body in answers:
        if status == 429:
            assert retry_after == "1"
            assert body["error"]["code"] == "rate_limited"

    assert (await strict.admin("rate-limit", {"per_second": 100}))["per_second"] == 100
    status, _ = await strict.get("/api/v1/courses")
    assert status == 200


async def test_courses_page_and_filter(youth: Youth) -> None:
    status, first = await youth.get("/api/v1/courses")
    assert status == 200
    assert (first["total"], first["page"], first["page_size"]) == (300, 1, 20)
    _, second = await youth.get("/api/v1/courses?page=2")
    assert {c["course_id"] for c in first["items"]}.isdisjoint(
        c["course_id"] for c in second["items"]
    )
    _, last = await youth.get("/api/v1/courses?page=7&page_size=50")
    assert last["items"] == []

    courses = await youth.courses()
    terms = sorted({c["term"] for c in courses})
    assert len(terms) == 2
    assert {c["status"] for c in courses} == {"PRE_REG", "DRAWN", "ENROLLING", "FULL", "CLOSED"}
    assert {c["category"] for c in courses} == {"文艺", "书画", "科技", "器乐", "体育"}
    assert {c["mode"] for c in courses} == {"FIRST_COME", "LOTTERY"}
    assert all(c["prereg_open"].endswith("+08:00") for c in courses)

    by_term = await youth.courses(f"term={terms[0]}")
    assert {c["term"] for c in by_term} == {terms[0]}
    assert 0 < len(by_term) < 300
    for query, check in (
        ("category=书画", lambda c: c["category"] == "书画"),
        ("age=6", lambda c: c["age_min"] <= 6 <= c["age_max"]),
        ("q=钢琴", lambda c: "钢琴" in c["name"]),
        ("status=FULL", lambda c: c["status"] == "FULL"),
    ):
        found = await youth.courses(query)
        assert found
        assert all(check(c) for c in found)
        assert len(found) == sum(1 for c in courses if check(c))


@pytest.mark.parametrize("query", ["page=0", "page_size=51", "page_size=0", "page=abc", "age=six"])
async def test_bad_paging_is_400(youth: Youth, query: str) -> None:
    status, body = await youth.get(f"/api/v1/courses?{query}")
    assert status == 400
    assert body["error"]["code"] == "bad_request"


async def test_unknown_ids_are_404(youth: Youth) -> None:
    for path in (
        "/api/v1/courses/YC2099S-9999",
        "/api/v1/members/Y99999",
        "/api/v1/members/Y00041",
        "/api/v1/members/Y99999/applications",
    ):
        status, body = await youth.get(path)
        assert status == 404
        assert body["error"]["code"] == "not_found"
    status, body = await youth.post("/api/v1/applications/YA99999999/cancel")
    assert (status, body["error"]["code"]) == (404, "not_found")


async def test_members_follow_the_household_conventions(youth: Youth) -> None:
    status, member = await youth.get("/api/v1/members/Y00021")
    assert status == 200
    assert member["guardian_resident_id"] == "R000003"
    today = (await youth.now()).date()
    assert 4 <= _age(date.fromisoformat(member["birth_date"]), today) <= 16
    assert member["name"]


async def _open_first_come(youth: Youth) -> Json:
    """The ENROLLING first-come course with the most free seats."""
    courses = [c for c in await youth.courses("status=ENROLLING") if c["mode"] == "FIRST_COME"]
    return max(courses, key=lambda c: c["capacity"] - c["enrolled"])


async def test_first_come_offer_then_pay_enrolls(youth: Youth) -> None:
    course = await _open_first_come(youth)
    [offer] = await youth.apply_new(course, 1)
    assert offer["state"] == "OFFERED"
    created = datetime.fromisoformat(offer["created_at"])
    assert datetime.fromisoformat(offer["pay_deadline"]) == created + timedelta(minutes=30)
    assert offer["amount_fen"] == course["fee_fen"] + course["material_fee_fen"]
    assert (await youth.course(course["course_id"]))["enrolled"] == course["enrolled"] + 1

    status, body = await youth.pay(offer, amount=offer["amount_fen"] - 100)
    assert (status, body["error"]["code"]) == (409, "amount_mismatch")
    status, paid = await youth.pay(offer)
    assert status == 200
    assert (paid["state"], paid["channel"]) == ("ENROLLED", "wechat")
    assert (await youth.course(course["course_id"]))["enrolled"] == course["enrolled"] + 1


async def test_unpaid_offer_expires_after_30_minutes(youth: Youth) -> None:
    course = await _open_first_come(youth)
    [offer] = await youth.apply_new(course, 1)
    await youth.move_clock_to(datetime.fromisoformat(offer["pay_deadline"]) + timedelta(seconds=1))

    [mine] = [
        a
        for a in await youth.applications(offer["member_no"])
        if a["application_id"] == offer["application_id"]
    ]
    assert mine["state"] == "EXPIRED"
    status, body = await youth.pay(offer)
    assert (status, body["error"]["code"]) == (409, "payment_expired")
    assert (await youth.course(course["course_id"]))["enrolled"] == course["enrolled"]


async def test_full_course_waitlists_in_order_until_the_waitlist_is_full(youth: Youth) -> None:
    course = await _first(youth, "status=FULL", "FIRST_COME")
    made: list[Json] = []
    refusal = None
    async for member_no in youth.candidates(course):
        status, body = await youth.apply(course["course_id"], member_no)
        if status == 200:
            made.append(body)
        elif body["error"]["code"] != "already_applied":
            refusal = (status, body["error"]["code"])
            break
    assert refusal == (409, "course_full")
    assert made
    assert {a["state"] for a in made} == {"WAITLISTED"}
    numbers = [a["waitlist_no"] for a in made]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    assert (await youth.course(course["course_id"]))["status"] == "FULL"


async def test_a_cancelled_seat_goes_to_the_first_on_the_waitlist(youth: Youth) -> None:
    course = min(
        (c for c in await youth.courses("status=ENROLLING") if c["mode"] == "FIRST_COME"),
        key=lambda c: c["capacity"] - c["enrolled"],
    )
    free = course["capacity"] - course["enrolled"]
    made = await youth.apply_new(course, free + 2)
    offers, waiting = made[:free], made[free:]
    assert {a["state"] for a in offers} == {"OFFERED"}
    assert [a["state"] for a in waiting] == ["WAITLISTED", "WAITLISTED"]
    assert (await youth.course(course["course_id"]))["status"] == "FULL"

    status, cancelled = await youth.post(
        f"/api/v1/applications/{offers[0]['application_id']}/cancel"
    )
    assert (status, cancelled["state"], cancelled["refund_fen"]) == (200, "CANCELLED", None)
    states = {
        a["application_id"]: a["state"]
        for w in waiting
        for a in await youth.applications(w["member_no"])
    }
    assert states[waiting[0]["application_id"]] == "OFFERED"
    assert states[waiting[1]["application_id"]] == "WAITLISTED"


async def test_one_live_application_per_member_and_course(youth: Youth) -> None:
    course = await _open_first_come(youth)
    [first] = await youth.apply_new(course, 1)
    status, body = await youth.apply(course["course_id"], first["member_no"])
    assert (status, body["error"]["code"]) == (409, "already_applied")
    await youth.post(f"/api/v1/applications/{first['application_id']}/cancel")
    status, again = await youth.apply(course["course_id"], first["member_no"])
    assert (status, again["state"]) == (200, "OFFERED")


async def test_age_outside_the_window_is_refused(youth: Youth) -> None:
    course = await _open_first_come(youth)
    member_no = await anext(youth.candidates(course, fits=False))
    status, body = await youth.apply(course["course_id"], member_no)
    assert (status, body["error"]["code"]) == (409, "age_not_eligible")


async def test_lottery_outside_the_registration_window_is_not_open(youth: Youth) -> None:
    now = await youth.now()
    course = next(
        c
        for c in await youth.courses("status=PRE_REG")
        if c["mode"] == "LOTTERY" and datetime.fromisoformat(c["prereg_open"]) > now
    )
    member_no = await anext(youth.candidates(course))
    status, body = await youth.apply(course["course_id"], member_no)
    assert (status, body["error"]["code"]) == (409, "not_open")


async def _lottery_round(youth: Youth) -> dict[str, tuple[str, int | None]]:
    """Two first choices and enough third choices to overflow one open lottery, then the draw."""
    now = await youth.now()
    course = min(
        (
            c
            for c in await youth.courses("status=PRE_REG")
            if c["mode"] == "LOTTERY"
            and datetime.fromisoformat(c["prereg_open"])
            <= now
            < datetime.fromisoformat(c["prereg_close"])
        ),
        key=lambda c: (c["capacity"], c["course_id"]),
    )
    firsts = await youth.apply_new(course, 2, rank=1)
    thirds = await youth.apply_new(course, course["capacity"] + 2, rank=3)
    assert {a["state"] for a in firsts + thirds} == {"APPLIED"}

    lottery_at = datetime.fromisoformat(course["lottery_at"])
    await youth.move_clock_to(lottery_at + timedelta(minutes=1))
    assert (await youth.course(course["course_id"]))["status"] in {"DRAWN", "FULL"}
    drawn: dict[str, Json] = {}
    for app in firsts + thirds:
        for seen in await youth.applications(app["member_no"]):
            if seen["application_id"] == app["application_id"]:
                drawn[app["member_no"]] = seen

    first_states = [drawn[a["member_no"]] for a in firsts]
    third_states = [drawn[a["member_no"]] for a in thirds]
    assert {a["state"] for a in drawn.values()} == {"WON", "LOST"}
    # the seeded first choices leave room, so ours win whatever the shuffle
    assert all(a["state"] == "WON" for a in first_states)
    assert "LOST" in {a["state"] for a in third_states}
    for won in (a for a in drawn.values() if a["state"] == "WON"):
        assert datetime.fromisoformat(won["pay_deadline"]) == lottery_at + timedelta(hours=48)
    lost_first = [a["waitlist_no"] for a in first_states if a["state"] == "LOST"]
    lost_third = sorted(a["waitlist_no"] for a in third_states if a["state"] == "LOST")
    assert all(no < min(lost_third) for no in lost_first)
    assert len(set(lost_third)) == len(lost_third) >= 2
    assert all(a["waitlist_no"] is None for a in drawn.values() if a["state"] == "WON")
    return {no: (a["state"], a["waitlist_no"]) for no, a in drawn.items()}


async def test_lottery_draws_first_choices_first_with_ordered_waitlist(youth: Youth) -> None:
    outcome = await _lottery_round(youth)
    assert len(outcome) >= 5


async def test_same_seed_draws_the_same_lottery() -> None:
    outcomes = []
    for _ in range(2):
        running, session, youth = await _start()
        try:
            await youth.admin("rate-limit", {"per_second": 100_000})
            outcomes.append(await _lottery_round(youth))
        finally:
            await session.close()
            await running.stop()
    assert outcomes[0] == outcomes[1]


async def test_cancelling_a_paid_seat_refunds_it(youth: Youth) -> None:
    course = await _open_first_come(youth)
    [offer] = await youth.apply_new(course, 1)
    await youth.pay(offer)
    path = f"/api/v1/applications/{offer['application_id']}/cancel"
    status, cancelled = await youth.post(path)
    assert (status, cancelled["state"]) == (200, "CANCELLED")
    assert cancelled["refund_fen"] == offer["amount_fen"]
    status, body = await youth.post(path)
    assert (status, body["error"]["code"]) == (409, "invalid_state")


async def test_writes_need_an_idempotency_key(youth: Youth) -> None:
    course = await _open_first_come(youth)
    member_no = await anext(youth.candidates(course))
    body = {"course_id": course["course_id"], "member_no": member_no}
    status, answer = await youth.post("/api/v1/applications", body, idem=None)
    assert (status, answer["error"]["code"]) == (400, "idempotency_key_required")
    assert (await youth.course(course["course_id"]))["enrolled"] == course["enrolled"]


async def test_a_repeated_write_replays_the_first_answer_once(youth: Youth) -> None:
    course = await _open_first_come(youth)
    member_no = await anext(youth.candidates(course))
    before = len(await youth.applications(member_no))
    body = {"course_id": course["course_id"], "member_no": member_no, "preference_rank": 1}
    reordered = {"preference_rank": 1, "member_no": member_no, "course_id": course["course_id"]}
    first = await youth.post_raw("/api/v1/applications", body, idem="same-key")
    again = await youth.post_raw("/api/v1/applications", reordered, idem="same-key")
    assert first[0] == again[0] == 200
    assert first[1] == again[1]
    assert len(await youth.applications(member_no)) == before + 1
    assert (await youth.course(course["course_id"]))["enrolled"] == course["enrolled"] + 1

    status, conflict = await youth.post(
        "/api/v1/applications", {**body, "preference_rank": 2}, idem="same-key"
    )
    assert (status, conflict["error"]["code"]) == (409, "idempotency_conflict")
    refused = await youth.post_raw("/api/v1/applications", body, idem="second-key")
    assert refused[0] == 409
    assert refused[1] == (await youth.post_raw("/api/v1/applications", body, "second-key"))[1]


async def test_household_h0003_fixture(youth: Youth) -> None:
    status, member = await youth.get("/api/v1/members/Y00031")
    assert (status, member["guardian_resident_id"]) == (200, "R000005")
    apps = {no: await youth.applications(no) for no in ("Y00031", "Y00032", "Y00033")}
    states = {no: sorted(a["state"] for a in items) for no, items in apps.items()}
    assert states == {
        "Y00031": ["CANCELLED", "ENROLLED", "OFFERED"],
        "Y00032": ["APPLIED", "EXPIRED", "WON"],
        "Y00033": ["LOST", "WAITLISTED"],
    }
    every = [a for items in apps.values() for a in items]
    assert len({a["course_id"] for a in every}) == 7
    by_state = {a["state"]: a for a in every}
    now = await youth.now()
    assert datetime.fromisoformat(by_state["OFFERED"]["pay_deadline"]) > now
    assert datetime.fromisoformat(by_state["WON"]["pay_deadline"]) > now
    assert by_state["WON"]["course_id"] == by_state["LOST"]["course_id"]
    assert by_state["LOST"]["waitlist_no"] >= 1
    assert by_state["CANCELLED"]["refund_fen"] == by_state["CANCELLED"]["amount_fen"]

    status, paid = await youth.pay(by_state["OFFERED"])
    assert (status, paid["state"]) == (200, "ENROLLED")
