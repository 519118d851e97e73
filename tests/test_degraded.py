"""Stale-if-error and single-flight: what a cache may serve when a department fails, and to whom.

Cache-level tests use an injected clock (no waiting); the end-to-end tests run the hub against
the mocks and read ``extensions.degraded``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.cache import NOT_MODIFIED, Fetched, NotModified, RevalidatingCache
from connectors.degradation import StaleServe, collecting, oldest_per_department
from connectors.errors import UpstreamNotFound, UpstreamTimeout, UpstreamUnavailable
from connectors.keyed import KeyedCache
from hub.settings import Settings
from tests.support import LiveHub, MockAdmin

PUBLIC = (
    "{ garbageSorting { categories { code } } bankWindows { branches(first: 20) { totalCount } } }"
)
LOANS = "{ me { library { loans { barcode } } } }"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Upstream:
    """A department answering ``value`` (or failing with ``error``), counting its calls."""

    value: str = "v1"
    error: Exception | None = None
    calls: int = 0

    async def fetch(self, etag: str | None) -> Fetched[str] | NotModified:
        self.calls += 1
        await asyncio.sleep(0)
        if self.error is not None:
            raise self.error
        if etag == self.value:
            return NOT_MODIFIED
        return Fetched(self.value, self.value, None)


def cache(clock: FakeClock, stale_if_error_s: float = 60) -> RevalidatingCache[str]:
    return RevalidatingCache(maxsize=10, ttl_s=10, clock=clock, stale_if_error_s=stale_if_error_s)


# -- RevalidatingCache ---------------------------------------------------------------------


async def test_an_expired_entry_stands_in_for_a_failed_refresh_and_says_how_old_it_is() -> None:
    # given an entry fetched 30 s ago (expired after 10 s)
    clock, upstream = FakeClock(), Upstream()
    values = cache(clock)
    await values.get("k", upstream.fetch)
    clock.now += 30
    # when the department fails the refresh
    upstream.error = UpstreamUnavailable("garbage", "down")
    with collecting() as serves:
        found = await values.get("k", upstream.fetch)
    # then the old value is served and the staleness recorded
    assert found == "v1"
    assert [(s.department, s.age_s) for s in serves] == [("garbage", 30.0)]
    assert values.stats.stale == 1


async def test_an_entry_older_than_the_stale_limit_is_not_served() -> None:
    clock, upstream = FakeClock(), Upstream()
    values = cache(clock, stale_if_error_s=60)
    await values.get("k", upstream.fetch)
    clock.now += 61
    upstream.error = UpstreamTimeout("garbage", "slow")
    with pytest.raises(UpstreamTimeout):
        await values.get("k", upstream.fetch)


async def test_age_counts_from_the_last_revalidation_not_the_first_fetch() -> None:
    clock, upstream = FakeClock(), Upstream()
    values = cache(clock, stale_if_error_s=60)
    await values.get("k", upstream.fetch)
    clock.now += 50
    await values.get("k", upstream.fetch)  # 304: still current
    clock.now += 40
    upstream.error = UpstreamUnavailable("garbage", "down")
    with collecting() as serves:
        assert await values.get("k", upstream.fetch) == "v1"
    assert serves[0].age_s == 40.0


@pytest.mark.parametrize("stale_if_error_s", [0, 60])
async def test_not_found_is_an_answer_never_hidden_by_a_stale_entry(
    stale_if_error_s: float,
) -> None:
    clock, upstream = FakeClock(), Upstream()
    values = cache(clock, stale_if_error_s=stale_if_error_s)
    await values.get("k", upstream.fetch)
    clock.now += 11
    upstream.error = UpstreamNotFound("garbage", "gone")
    with pytest.raises(UpstreamNotFound):
        await values.get("k", upstream.fetch)


async def test_every_coalesced_caller_records_the_staleness_in_its_own_request() -> None:
    clock, upstream = FakeClock(), Upstream()
    values = cache(clock)
    await values.get("k", upstream.fetch)
    clock.now += 20
    upstream.error = UpstreamUnavailable("garbage", "down")

    async def one_request() -> list[StaleServe]:
        with collecting() as serves:
            await values.get("k", upstream.fetch)
        return serves

    first, second = await asyncio.gather(one_request(), one_request())
    assert upstream.calls == 2, "one fetch, then one refresh shared by both"
    assert len(first) == len(second) == 1


async def test_coalesced_reads_are_keyed_by_caller_and_never_cross_callers() -> None:
    # given a slow upstream whose answer depends on the caller
    fetched: list[str] = []

    def for_caller(caller: str) -> Callable[[str | None], Any]:
        async def fetch(_etag: str | None) -> Fetched[str]:
            fetched.append(caller)
            await asyncio.sleep(0)  # stay in flight while the others arrive
            return Fetched(f"loans of {caller}", None, None)

        return fetch

    values: RevalidatingCache[str] = RevalidatingCache(maxsize=10, ttl_s=10)
    callers = ["R000001", "R000002"] * 10
    # when both residents ask at the same moment, ten times each
    answers = await asyncio.gather(
        *(values.get(("loans", caller), for_caller(caller)) for caller in callers)
    )
    # then each was asked once for, and each got only their own answer
    assert sorted(fetched) == ["R000001", "R000002"]
    assert answers == [f"loans of {caller}" for caller in callers]


def test_one_record_per_department_the_oldest() -> None:
    down = UpstreamUnavailable("icbc", "down")
    serves = [StaleServe("icbc", 3, down), StaleServe("ccb", 1, down), StaleServe("icbc", 9, down)]
    assert [(s.department, s.age_s) for s in oldest_per_department(serves)] == [
        ("icbc", 9),
        ("ccb", 1),
    ]


# -- KeyedCache (bank queues) --------------------------------------------------------------


async def test_keyed_values_stand_in_only_when_every_key_asked_has_one() -> None:
    clock = FakeClock()
    queues: KeyedCache[str] = KeyedCache(maxsize=10, ttl_s=30, clock=clock, stale_if_error_s=60)
    failing = False

    async def fetch(keys: Sequence[str]) -> Mapping[str, str]:
        if failing:
            raise UpstreamUnavailable("ccb", "busy")
        return {key: key.upper() for key in keys}

    await queues.get_many(["a", "b"], fetch)
    clock.now += 40
    failing = True
    with collecting() as serves:
        assert await queues.get_many(["a", "b"], fetch) == {"a": "A", "b": "B"}
    assert [(s.department, s.age_s) for s in serves] == [("ccb", 40.0)]
    with pytest.raises(UpstreamUnavailable):
        await queues.get_many(["a", "c"], fetch)


# -- through the hub -----------------------------------------------------------------------


def stale_settings(make_settings: Callable[..., Settings], stale_s: str) -> Settings:
    env = {}
    for department in ("GARBAGE", "ICBC"):
        env[f"HUB_{department}_CACHE_TTL_S"] = "0"
        env[f"HUB_{department}_STALE_IF_ERROR_S"] = stale_s
        env[f"HUB_{department}_MAX_RETRIES"] = "0"
    return make_settings(env=env)


def test_a_failing_department_answers_from_cache_and_says_so(
    start_hub: Callable[..., LiveHub],
    make_settings: Callable[..., Settings],
    garbage: MockAdmin,
    mocks: Any,
) -> None:
    # given answers cached by a hub whose garbage and ICBC entries expire at once
    icbc = MockAdmin(mocks.urls["icbc"])
    hub = start_hub(departments=stale_settings(make_settings, "60").departments)
    before = hub.graphql(PUBLIC).json()
    assert "errors" not in before and "extensions" not in before
    # when both departments go down
    garbage.faults(down=True)
    icbc.faults(down=True)
    try:
        after = hub.graphql(PUBLIC).json()
    finally:
        icbc.clear_faults()
    # then the client gets the cached answers, no errors, and is told what is stale and why
    assert after["data"] == before["data"]
    assert "errors" not in after
    degraded = after["extensions"]["degraded"]
    assert sorted(d["department"] for d in degraded) == ["garbage", "icbc"]
    assert {d["reason"] for d in degraded} == {"UPSTREAM_UNAVAILABLE"}
    assert all(0 <= d["ageSeconds"] < 60 for d in degraded)
    metrics = hub.client.get("/metrics").text
    assert 'ihub_cache_events_total{department="garbage",event="stale"}' in metrics


def test_without_stale_if_error_the_failure_is_reported(
    start_hub: Callable[..., LiveHub], make_settings: Callable[..., Settings], garbage: MockAdmin
) -> None:
    hub = start_hub(departments=stale_settings(make_settings, "0").departments)
    hub.graphql(PUBLIC)
    garbage.faults(down=True)
    body = hub.graphql(PUBLIC).json()
    assert body["data"]["garbageSorting"]["categories"] is None
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "UPSTREAM_UNAVAILABLE", "department": "garbage"}
    ]
    assert "extensions" not in body


def test_concurrent_residents_each_get_only_their_own_loans(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], mocks: Any
) -> None:
    # given two residents' loans as the library has them
    hub = start_hub()
    tokens = {resident: token_for(resident) for resident in ("R000001", "R000002")}
    own = {r: hub.graphql(LOANS, token=t).json()["data"] for r, t in tokens.items()}
    assert own["R000001"] != own["R000002"]
    # when they ask at the same moment, many times, while the library is slow
    library = MockAdmin(mocks.urls["library"])
    library.faults(latency_ms=50)
    askers = list(tokens) * 8
    try:
        with ThreadPoolExecutor(max_workers=len(askers)) as pool:
            answers = list(pool.map(lambda r: hub.graphql(LOANS, token=tokens[r]).json(), askers))
    finally:
        library.clear_faults()
    # then every answer is the asker's own
    assert [answer["data"] for answer in answers] == [own[r] for r in askers]


OUTAGE = """{
  library { a: search(query: "三体") { totalCount } b: search(query: "红楼梦") { totalCount }
            c: book(id: "9787536692930") { title } }
  youthCenter { x: courses(first: 5) { totalCount } y: courses(first: 3) { totalCount }
                z: course(id: "YC1999X-0000") { name } }
  garbageSorting { categories { code } }
}"""


def test_an_outage_is_one_error_per_department_with_every_field_it_feeds_null(
    start_hub: Callable[..., LiveHub], mocks: Any
) -> None:
    hub = start_hub()
    down = [MockAdmin(mocks.urls[name]) for name in ("library", "youth")]
    for admin in down:
        admin.faults(down=True)
    try:
        body = hub.graphql(OUTAGE).json()
    finally:
        for admin in down:
            admin.clear_faults()
    library, youth = body["data"]["library"], body["data"]["youthCenter"]
    assert library == {"a": None, "b": None, "c": None}, body
    assert youth == {"x": None, "y": None, "z": None}, body
    assert body["data"]["garbageSorting"]["categories"], "a healthy department still answers"
    failures = [e["extensions"] for e in body["errors"]]
    assert sorted(e["department"] for e in failures) == ["library", "youth"], failures
    assert {e["code"] for e in failures} == {"UPSTREAM_UNAVAILABLE"}
