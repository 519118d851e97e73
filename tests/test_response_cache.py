"""The response cache for public queries (``hub.web.response_cache``), through a live hub.

A repeat of an anonymous public query is answered without executing it again (the mocks
see no second call), with the same bytes as the uncached path and a hit in ``/metrics``; it
expires with the departments' TTL, is emptied by the hub's own writes (an enrolment changes
``seatsLeft``), never stores degraded or failed answers, and never serves personal or
partner operations, nor any caller with a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from strawberry.types import ExecutionResult

from hub.settings import Settings
from hub.web.response_cache import ResponseCache
from schema.context import Principal
from tests.support import LiveHub, MockAdmin

REPO = Path(__file__).resolve().parent.parent
COURSES_CALL = "GET /api/v1/courses"
COURSES = (REPO / "bench" / "operations" / "courses.graphql").read_text(encoding="utf-8")
CLASSIFY = (REPO / "bench" / "operations" / "classify.graphql").read_text(encoding="utf-8")
SEATS = """query Seats($age: Int!) { youthCenter { courses(first: 50,
  filter: {status: ENROLLING, age: $age}) { edges { node { id mode seatsLeft } } } } }"""
APPLY = """mutation Apply($input: ApplyForCourseInput!) {
  applyForCourse(input: $input) { application { id state course { id } } userErrors { code } } }"""
HOUSEHOLD = "{ me { household { members { id kind age } } } }"
LOANS = "query MyLoans { me { library { loans { barcode } } } }"
CATEGORIES = "query Categories { garbageSorting { categories { code name } } }"
ICBC = {"client_id": "icbc-window-dev", "client_secret": "dev-icbc-partner-secret"}


def strip_header(document: str) -> str:
    lines = document.splitlines()
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "\n".join(lines).strip()


@pytest.fixture
def youth(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def metric(hub: LiveHub, name: str, **labels: str) -> float:
    text = hub.client.get("/metrics").text
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def poll(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.05)


def test_a_repeat_is_served_from_the_cache_with_identical_bytes_and_counted(
    start_hub: Callable[..., LiveHub], youth: MockAdmin
) -> None:
    # given a fresh hub with the cache and one without it
    cached, uncached = start_hub(), start_hub(response_cache=False)
    query = strip_header(COURSES)
    # when the course list is asked three times of each
    answers = [cached.graphql(query) for _ in range(3)]
    assert youth.calls(COURSES_CALL) == 1, "the repeats reached no department"
    plain = [uncached.graphql(query) for _ in range(2)]
    # then every answer is the same bytes, headers of the answer included
    assert all(a.status_code == 200 for a in answers + plain)
    assert len(answers[0].json()["data"]["youthCenter"]["courses"]["edges"]) == 50
    assert {a.content for a in answers} == {p.content for p in plain}
    assert answers[2].headers["content-type"] == plain[1].headers["content-type"]
    # and the hits are counted, the operations as ok
    assert metric(cached, "ihub_cache_events_total", department="response", event="hit") == 2
    assert metric(cached, "ihub_cache_events_total", department="response", event="store") == 1
    ok = metric(cached, "ihub_graphql_operations_total", operation="CourseList", outcome="ok")
    assert ok == 3


def test_get_answers_keep_their_cache_headers_and_304(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub, plain = start_hub(), start_hub(response_cache=False)
    digest = hashlib.sha256(CATEGORIES.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    for live in (hub, plain):
        first = live.client.post("/graphql", json={"query": CATEGORIES, "extensions": extensions})
        assert first.status_code == 200
    params = {"extensions": json.dumps(extensions)}
    served = [hub.client.get("/graphql", params=params) for _ in range(2)]
    reference = plain.client.get("/graphql", params=params)
    for response in served:
        assert response.content == reference.content
        assert response.headers["ETag"] == reference.headers["ETag"]
        assert response.headers["Cache-Control"] == reference.headers["Cache-Control"]
    again = hub.client.get(
        "/graphql", params=params, headers={"If-None-Match": served[0].headers["ETag"]}
    )
    assert again.status_code == 304 and again.content == b""
    assert metric(hub, "ihub_cache_events_total", department="response", event="hit") >= 2


def test_an_entry_expires_with_the_departments_ttl(
    start_hub: Callable[..., LiveHub], make_settings: Callable[..., Settings], youth: MockAdmin
) -> None:
    # given a hub whose youth TTL is one second
    short = make_settings(env={"HUB_YOUTH_CACHE_TTL_S": "1"})
    hub = start_hub(departments=short.departments)
    query = strip_header(COURSES)
    first = hub.graphql(query).content
    # then, asked again and again, the list is fetched again once the second has passed
    poll(lambda: hub.graphql(query).content == first and youth.calls(COURSES_CALL) >= 2)
    assert metric(hub, "ihub_cache_events_total", department="response", event="expired") >= 1


def test_variables_are_part_of_the_key(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub()
    query = strip_header(CLASSIFY)
    battery = hub.graphql(query, {"item": "电池"}).json()
    peel = hub.graphql(query, {"item": "香蕉皮"}).json()
    assert battery["data"]["garbageSorting"]["classify"]["query"] == "电池"
    assert peel["data"]["garbageSorting"]["classify"]["query"] == "香蕉皮"
    assert hub.graphql(query, {"item": "电池"}).json() == battery
    assert hub.graphql(query, {"item": "香蕉皮"}).json() == peel


def a_child(hub: LiveHub, token_for: Callable[..., str]) -> tuple[str, str, int]:
    """A resident with a child in the seeded households: token, child id, age."""
    for number in range(611, 700):
        token = token_for(f"R{number:06d}")
        me = hub.graphql(HOUSEHOLD, token=token).json()["data"]["me"]
        for member in (me["household"] or {}).get("members", []) if me else []:
            if member["kind"] == "CHILD":
                return token, member["id"], member["age"]
    raise AssertionError("no household with a child")


def test_an_enrolment_empties_the_cache(
    start_hub: Callable[..., LiveHub], youth: MockAdmin, token_for: Callable[..., str]
) -> None:
    # given the course list for a child's age, cached
    hub = start_hub()
    token, child, age = a_child(hub, token_for)
    youth.reset()
    before = hub.graphql(SEATS, {"age": age}).json()["data"]["youthCenter"]["courses"]["edges"]
    repeat = hub.graphql(SEATS, {"age": age}).json()["data"]["youthCenter"]["courses"]["edges"]
    assert repeat == before
    assert youth.calls(COURSES_CALL) == 1
    # when the guardian takes a first-come place through the hub
    taken = None
    for number, node in enumerate(e["node"] for e in before):
        if node["mode"] != "FIRST_COME" or node["seatsLeft"] < 1:
            continue
        variables = {
            "input": {
                "memberId": child,
                "courseId": node["id"],
                "idempotencyKey": f"response-cache-{child}-{number}",
            }
        }
        answer = hub.graphql(APPLY, variables, token=token).json()
        assert answer.get("data"), answer
        payload = answer["data"]["applyForCourse"]
        if payload["application"] and payload["application"]["state"] == "OFFERED":
            taken = node
            break
    assert taken is not None, "no first-come course offered a place"
    # then the next anonymous list is fetched again and shows the seat gone
    after = hub.graphql(SEATS, {"age": age}).json()["data"]["youthCenter"]["courses"]["edges"]
    assert youth.calls(COURSES_CALL) == 2
    seats = {e["node"]["id"]: e["node"]["seatsLeft"] for e in after}
    assert seats[taken["id"]] == taken["seatsLeft"] - 1
    assert metric(hub, "ihub_cache_events_total", department="response", event="invalidated") >= 1


def test_personal_operations_and_callers_with_tokens_are_never_served_from_it(
    start_hub: Callable[..., LiveHub], youth: MockAdmin, token_for: Callable[..., str], mocks: Any
) -> None:
    hub = start_hub()
    library = MockAdmin(mocks.urls["library"])
    library.reset()
    token = token_for("R000001")
    # a resident's own loans, twice: the library is asked each time
    first = hub.graphql(LOANS, token=token).json()
    calls = library.total()
    second = hub.graphql(LOANS, token=token).json()
    assert first == second and "errors" not in first
    assert library.total() > calls > 0
    # a public query sent with a resident's token runs every time
    query = strip_header(COURSES)
    hub.graphql(query, token=token)
    hub.graphql(query, token=token)
    assert youth.calls(COURSES_CALL) == 2
    for event in ("miss", "hit", "store"):
        assert metric(hub, "ihub_cache_events_total", department="response", event=event) == 0


def test_a_partners_personal_operation_is_never_served_from_it(
    start_hub: Callable[..., LiveHub],
) -> None:
    hub = start_hub()
    manifest = json.loads((REPO / "partners" / "icbc.manifest.json").read_text())
    day = next(o for o in manifest["operations"] if o["name"] == "AppointmentsOfDay")
    response = hub.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **ICBC}
    ).json()
    headers = {"Authorization": f"Bearer {response['access_token']}"}
    date = (dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()).isoformat()
    body = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": day["id"]}},
        "variables": {"date": date},
    }
    answers = [hub.client.post("/graphql", json=body, headers=headers).json() for _ in range(2)]
    assert answers[0] == answers[1] and "errors" not in answers[0], answers[0]
    assert answers[0]["data"]["partner"] is not None
    # the cache was not even consulted: no miss, no hit, nothing stored
    for event in ("miss", "hit", "store"):
        assert metric(hub, "ihub_cache_events_total", department="response", event=event) == 0


def test_a_degraded_or_failed_answer_is_not_kept(
    start_hub: Callable[..., LiveHub], make_settings: Callable[..., Settings], garbage: MockAdmin
) -> None:
    # given a hub whose garbage answers live one second and may be served stale for a minute
    env = {
        "HUB_GARBAGE_CACHE_TTL_S": "1",
        "HUB_GARBAGE_STALE_IF_ERROR_S": "60",
        "HUB_GARBAGE_MAX_RETRIES": "0",
    }
    hub = start_hub(departments=make_settings(env=env).departments)
    fresh = hub.graphql(CATEGORIES).json()
    assert "extensions" not in fresh
    # when the department goes down, the answer turns degraded once the second has passed
    garbage.faults(down=True)
    try:
        poll(lambda: "extensions" in hub.graphql(CATEGORIES).json())
        calls = garbage.total()
        # then a repeat is not a cached copy: it asks again and says again it is degraded
        again = hub.graphql(CATEGORIES).json()
        assert again["data"] == fresh["data"]
        assert [d["department"] for d in again["extensions"]["degraded"]] == ["garbage"]
        assert garbage.total() > calls
    finally:
        garbage.clear_faults()
    # and with no stale copy allowed, the failure is reported each time, never cached
    strict = {**env, "HUB_GARBAGE_STALE_IF_ERROR_S": "0"}
    failing = start_hub(departments=make_settings(env=strict).departments)
    garbage.faults(down=True)
    try:
        for _ in range(2):
            body = failing.graphql(CATEGORIES).json()
            assert body["errors"][0]["extensions"]["code"] == "UPSTREAM_UNAVAILABLE"
    finally:
        garbage.clear_faults()
    assert failing.graphql(CATEGORIES).json()["data"] == fresh["data"]
    stored = metric(failing, "ihub_cache_events_total", department="response", event="store")
    assert stored == 1, "only the answer without errors was kept"


def test_the_kept_answers_stay_within_their_byte_budget() -> None:
    # the cache itself: anonymous callers choose the variables, the budget bounds the memory
    cache = ResponseCache({"garbage": 60.0}, max_bytes=2_000, clock=lambda: 10.0)
    query = strip_header(CLASSIFY)
    anonymous = Principal.anonymous()
    kept = []
    for n in range(20):
        lookup = cache.lookup(anonymous, query, None, {"item": f"item-{n}"})
        assert lookup is not None
        data = {"garbageSorting": {"classify": {"query": f"item-{n}", "tip": "x" * 100}}}
        assert cache.put(lookup, ExecutionResult(data=data, errors=None), frozenset(), 0.0)
        kept.append(lookup)
        assert cache.size_bytes <= 2_000
    assert 0 < len(cache) < 20
    assert cache.get(kept[-1]) is not None, "the newest answer is kept"
    assert cache.get(kept[0]) is None, "the oldest made room"
    # one answer larger than an eighth of the budget is not kept at all
    big = cache.lookup(anonymous, query, None, {"item": "big"})
    assert big is not None
    huge = {"garbageSorting": {"classify": {"query": "big", "tip": "x" * 1_000}}}
    assert not cache.put(big, ExecutionResult(data=huge, errors=None), frozenset(), 0.0)
    # and nothing personal is ever a candidate
    assert cache.lookup(anonymous, "query Mine { me { name } }", None, None) is None
    assert cache.lookup(Principal.resident("R000001"), query, None, {"item": "a"}) is None
