"""Several hubs on one Redis (``HUB_REDIS_URL``): one bucket, one APQ cache, one upstream call,
one CCB quota, exclusive leases; and Redis going away degrades to per-process, never an error.

Two ``create_app`` hubs in this process stand for two replicas: each has its own SQLite file,
its own caches and its own event loop, and they share only the Redis under a prefix of the
test's own. Redis is ``HUB_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/5``; scripts/test
starts one); without one the tests are skipped, except in CI, where that is a failure.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
import redis
from redis.exceptions import RedisError

from connectors.cache import Fetched, RevalidatingCache
from connectors.keyed import KeyedCache
from connectors.library import LibraryConnector
from connectors.policy import DepartmentPolicy
from connectors.shared import SharedUnavailable
from connectors.tier import SharedEntry, SharedTier
from hub.security.ratelimit import BucketPolicy
from hub.settings import department_policy
from hub.shared.backend import RedisState
from schema.context import CallerKind
from tests.serving import free_ports
from tests.support import LiveHub, MockAdmin

REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
CATEGORIES = "{ garbageSorting { categories { code name } } }"
CATEGORIES_CALL = "GET /api/categories"
BRANCHES = """{ bankWindows { branches(first: 50) { totalCount
  edges { node { id bank queue { waiting } } } } } }"""


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except RedisError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Redis unreachable at {REDIS_URL} in CI: {exc}")
        pytest.skip(f"Redis unreachable at {REDIS_URL} (set HUB_TEST_REDIS_URL): {exc}")
    return REDIS_URL


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (never FLUSH)."""
    chosen = f"ihub-test-{uuid.uuid4().hex[:12]}:"
    yield chosen
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=chosen + "*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def two_hubs(
    start_hub: Callable[..., LiveHub], redis_url: str, prefix: str
) -> Callable[..., tuple[LiveHub, LiveHub]]:
    def start(**overrides: Any) -> tuple[LiveHub, LiveHub]:
        shared = {"redis_url": redis_url, "redis_prefix": prefix, **overrides}
        return start_hub(**shared), start_hub(**shared)

    return start


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def metric(hub: LiveHub, name: str) -> float:
    """The sum of every series of ``name`` on the hub's /metrics."""
    text = hub.client.get("/metrics").text
    found = re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    return sum(float(value) for value in found)


def test_one_rate_limit_bucket_per_caller_across_hubs(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]], token_for: Callable[..., str]
) -> None:
    # given two hubs on one Redis, a resident allowed a burst of 3 and almost no refill
    policies = {kind: BucketPolicy(kind.value, 3, 0.001) for kind in CallerKind}
    first, second = two_hubs(rate_limits=policies)
    token = token_for("R000003")
    # when the resident spends the burst on the first hub
    spent = [first.graphql(CATEGORIES, token=token).status_code for _ in range(3)]
    # then the second hub refuses the next request: it is the same bucket
    refused = second.graphql(CATEGORIES, token=token)
    assert spent == [200, 200, 200]
    assert refused.status_code == 429
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert "r=0" in refused.headers["RateLimit"]
    # and another resident still has a bucket of their own
    assert second.graphql(CATEGORIES, token=token_for("R000004")).status_code == 200


def test_apq_registered_on_one_hub_runs_on_the_other(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]],
) -> None:
    # given two hubs with databases of their own, sharing Redis
    first, second = two_hubs()
    query = "{ garbageSorting { categories { code } } } # " + uuid.uuid4().hex
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}
    # when a client registers a document on the first hub
    registered = first.client.post("/graphql", json={"query": query, "extensions": extensions})
    assert registered.status_code == 200 and "errors" not in registered.json()
    # then the hash alone runs on the second one
    by_hash = second.client.post("/graphql", json={"extensions": extensions}).json()
    assert "errors" not in by_hash, by_hash
    assert by_hash["data"]["garbageSorting"]["categories"]


def test_twenty_concurrent_requests_over_two_hubs_make_one_upstream_call(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]], garbage: MockAdmin
) -> None:
    # given two fresh hubs on one Redis and a slow department, so the requests overlap
    hubs = two_hubs()
    garbage.faults(latency_ms=300)
    # when 20 clients ask both hubs the same public question at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: hubs[n % 2].graphql(CATEGORIES).json(), range(20)))
    # then all are answered, and the department was asked once in all
    assert all("errors" not in a and a["data"]["garbageSorting"]["categories"] for a in answers)
    assert len({str(a["data"]) for a in answers}) == 1
    assert garbage.calls(CATEGORIES_CALL) == 1
    # and a repeat on either hub asks nothing either
    assert hubs[1].graphql(CATEGORIES).status_code == 200
    assert garbage.calls(CATEGORIES_CALL) == 1


def test_branch_queues_are_fetched_once_for_both_hubs(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]], mocks: Any
) -> None:
    # given two fresh hubs and slow banks, so that the requests overlap
    banks = {name: MockAdmin(mocks.urls[name]) for name in ("icbc", "ccb")}
    for admin in banks.values():
        admin.reset()
        admin.faults(latency_ms=200)
    hubs = two_hubs()
    try:
        # when 10 clients open the branch list on both hubs at once
        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = list(pool.map(lambda n: hubs[n % 2].graphql(BRANCHES).json(), range(10)))
    finally:
        for admin in banks.values():
            admin.clear_faults()
    # then all have every queue, and each bank was asked for each queue once in all
    for answer in answers:
        assert "errors" not in answer, answer["errors"]
        edges = answer["data"]["bankWindows"]["branches"]["edges"]
        assert len(edges) == 20 and all(edge["node"]["queue"] for edge in edges)
    assert banks["ccb"].calls("POST /api/wd.pdxx") == 10, "one call per CCB branch"
    assert banks["ccb"].calls("POST /api/wd.list") == 1
    # ICBC answers queues in batches: the hub that leads a branch's fetch asks for it
    assert 1 <= banks["icbc"].calls("POST /api/branch.queue.query") <= 2


@pytest.fixture
def ccb(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["ccb"])
    admin.reset()
    yield admin
    httpx.post(f"{admin.url}/__admin/limits", json={"max_in_flight": 10, "processing_ms": 0})


def test_the_ccb_concurrency_quota_is_shared_by_the_hubs(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]],
    make_settings: Callable[..., Any],
    ccb: MockAdmin,
) -> None:
    # given a bank that refuses an app's third call in flight, each call taking 100 ms
    limits = {"max_in_flight": 2, "processing_ms": 100}
    httpx.post(f"{ccb.url}/__admin/limits", json=limits).raise_for_status()
    # and two hubs, each allowed 2 calls in flight, the app 2 across both
    env = {
        "HUB_CCB_MAX_CONCURRENCY": "2",
        "HUB_CCB_APP_MAX_CONCURRENCY": "2",
        "HUB_CCB_MAX_QUEUE_WAIT_S": "20",
        "HUB_CCB_TIMEOUT_S": "30",
    }
    first, second = two_hubs(departments=make_settings(env=env).departments)
    # when one hub loads every branch's queue (one CCB call per branch) while the other loads
    # the items (pages fetched together): different data, so no shared cache entry helps
    jobs = ((first, BRANCHES), (second, "{ bankWindows { items { code } } }"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda job: job[0].graphql(job[1]).json(), jobs))
    # then the bank never saw a third call in flight: no refusal, every queue and item there
    for answer in answers:
        assert "errors" not in answer, answer["errors"]
    nodes = [edge["node"] for edge in answers[0]["data"]["bankWindows"]["branches"]["edges"]]
    assert all(node["queue"] is not None for node in nodes if node["bank"] == "CCB")
    assert len(answers[1]["data"]["bankWindows"]["items"]) == 340
    assert ccb.calls("POST /api/wd.pdxx") == 10 and ccb.calls("POST /api/zw.sx.list") > 2


@pytest.fixture
def youth(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    httpx.post(f"{admin.url}/__admin/rate-limit", json={"per_second": 20}).raise_for_status()


def test_the_youth_calls_per_second_are_shared_by_the_hubs(
    two_hubs: Callable[..., tuple[LiveHub, LiveHub]],
    make_settings: Callable[..., Any],
    youth: MockAdmin,
) -> None:
    # given a center that takes 5 calls a second from the hub as one app
    env = {
        "HUB_YOUTH_APP_CALLS_PER_SECOND": "5",
        "HUB_YOUTH_MAX_QUEUE_WAIT_S": "20",
        "HUB_YOUTH_TIMEOUT_S": "30",
    }
    first, second = two_hubs(departments=make_settings(env=env).departments)
    listed = first.graphql("{ youthCenter { courses(first: 20) { edges { node { id } } } } }")
    ids = [edge["node"]["id"] for edge in listed.json()["data"]["youthCenter"]["courses"]["edges"]]
    httpx.post(f"{youth.url}/__admin/rate-limit", json={"per_second": 5}).raise_for_status()
    youth.reset()

    def courses(part: list[str]) -> str:
        fields = " ".join(f'c{n}: course(id: "{id}") {{ id }}' for n, id in enumerate(part))
        return f"{{ youthCenter {{ {fields} }} }}"

    # when each hub loads ten courses of its own at once (one call per course)
    jobs = ((first, courses(ids[:10])), (second, courses(ids[10:])))
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda job: job[0].graphql(job[1]).json(), jobs))
    # then every course is there and the center never had to refuse a call
    for answer in answers:
        assert "errors" not in answer, answer["errors"]
        assert all(answer["data"]["youthCenter"].values())
    assert youth.answers("GET /api/v1/courses/{course_id}", 429) == 0
    assert youth.calls("GET /api/v1/courses/{course_id}") == 20


async def test_a_call_counts_from_its_answer_once_settled(redis_url: str, prefix: str) -> None:
    # given one call a second, taken by one replica
    one, other = RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix)
    try:
        assert await one.take("quota:calls", 1, 1.0, "one:1") == 0.0
        # when its answer comes 0.6 s later (the department saw it somewhere in between)
        await asyncio.sleep(0.6)
        await one.settle("quota:calls", "one:1")
        # then a second later than its start, the other replica must still wait for it:
        # the call counts from its answer, not from its start
        await asyncio.sleep(0.5)
        wait = await other.take("quota:calls", 1, 1.0, "other:1")
        assert 0.3 < wait <= 1.0, wait
        # and once a second has passed since the answer, the other takes its call
        await asyncio.sleep(wait + 0.05)
        assert await other.take("quota:calls", 1, 1.0, "other:1") == 0.0
        # a call settled after its entry left the window is not counted again
        await one.settle("quota:calls", "one:1")
        assert await one.take("quota:calls", 2, 1.0, "one:2") == 0.0
    finally:
        await one.aclose()
        await other.aclose()


async def test_a_lease_is_exclusive_across_owners_until_it_expires(
    redis_url: str, prefix: str
) -> None:
    # given two replicas' views of the shared state
    one, other = RedisState(redis_url, prefix=prefix), RedisState(redis_url, prefix=prefix)
    try:
        # when the first takes the scan lease
        assert await one.acquire("lease:scan", one.owner, 0.5)
        # then the other can neither take, renew nor release it
        assert not await other.acquire("lease:scan", other.owner, 0.5)
        assert not await other.renew("lease:scan", other.owner, 30)
        assert not await other.release("lease:scan", other.owner)
        # and the owner can renew it
        assert await one.renew("lease:scan", one.owner, 0.5)
        # when the owner stops renewing, the lease expires and the other takes it
        deadline = time.monotonic() + 10
        while not await other.acquire("lease:scan", other.owner, 30):
            assert time.monotonic() < deadline, "the lease never expired"
            await asyncio.sleep(0.05)
        # then the first owner has lost it: its renew and release fail
        assert not await one.renew("lease:scan", one.owner, 30)
        assert not await one.release("lease:scan", one.owner)
        assert await other.release("lease:scan", other.owner)
        assert await one.acquire("lease:scan", one.owner, 30)
    finally:
        await one.aclose()
        await other.aclose()


async def test_library_books_fetched_by_one_replica_serve_the_other(
    redis_url: str, prefix: str, mocks: Any
) -> None:
    # given two library connectors (two replicas) on one Redis
    library = MockAdmin(mocks.urls["library"])
    library.reset()
    credentials = {"appid": "ihub-dev", "secret": "dev-library-secret"}
    policy = DepartmentPolicy(base_url=library.url, credentials=credentials, cache_ttl_s=30)
    states = [RedisState(redis_url, prefix=prefix) for _ in range(2)]
    ids = ["500001", "500002", "500003", "999"]
    try:
        async with aiohttp.ClientSession() as session:
            one, other = (LibraryConnector(session, policy, shared=s.shared()) for s in states)
            # when the first fetches three records (and one the library does not know)
            first = await one.books_by_ids(ids)
            # then the second has them without asking the library
            assert await other.books_by_ids(ids) == first
            assert sorted(first) == ids[:3]
            assert library.calls("GET /opac/api/book/batch") == 1
            assert other.fresh_book("500001") == first["500001"]
    finally:
        for state in states:
            await state.aclose()


async def test_tampered_or_outdated_shared_entries_are_misses(redis_url: str, prefix: str) -> None:
    # given a shared cache tier with one record in it
    state = RedisState(redis_url, prefix=prefix)
    tier = SharedTier(state.shared(), "youth:courses", lease_s=5, wall_clock=time.time)
    entry = SharedEntry(("a", 1), None, time.time() + 60, time.time())
    try:
        await tier.write("c1", entry, 0, 60)
        assert (await tier.read("c1"))[0] == entry
        # when someone with access to Redis writes a pickle or a foreign type under its key
        client = redis.Redis.from_url(redis_url)
        for forged in (
            b"\x80\x04\x95",
            orjson.dumps({"g": 0, "v": '{"@": "os.system", "f": {}}', "e": None, "f": 2e9, "s": 0}),
        ):
            client.set(f"{prefix}cache:youth:courses:'c2'", forged)
            # then reading it is a miss: nothing is unpickled, no foreign type is built
            assert (await tier.read("c2"))[0] is None
        client.close()
        # and after an invalidation the old entry is not served by anyone
        await tier.invalidate()
        assert (await tier.read("c1")) == (None, 1)
    finally:
        await state.aclose()


async def test_a_replica_serves_the_expired_entry_while_another_refreshes_it(
    redis_url: str, prefix: str
) -> None:
    # given an expired shared entry with an ETag, and another replica holding its fill lease
    state = RedisState(redis_url, prefix=prefix)
    mine = SharedTier(state.shared(), "garbage:reads", lease_s=5, wall_clock=time.time)
    theirs_shared = dataclasses.replace(state.shared(), owner="another-replica")
    theirs = SharedTier(theirs_shared, "garbage:reads", lease_s=5, wall_clock=time.time)
    now = time.time()
    await mine.write("k", SharedEntry("old", '"v1"', now - 1, now - 61), 0, 600)
    assert await theirs.lead("k")
    sent: list[str | None] = []

    async def fetch(etag: str | None) -> Fetched[str]:
        sent.append(etag)
        return Fetched("new", '"v2"', None)

    cache: RevalidatingCache[str] = RevalidatingCache(maxsize=10, ttl_s=60, shared=mine)
    try:
        # when this replica misses: it serves the expired entry and asks nobody
        assert await cache.get("k", fetch) == "old"
        assert sent == []
        # when the lease is free: it refreshes, revalidating with the shared ETag
        await theirs.done("k")
        assert await cache.get("k", fetch) == "new"
        assert sent == ['"v1"']
        # and the other replica reads the new entry from Redis without a call of its own
        other: RevalidatingCache[str] = RevalidatingCache(maxsize=10, ttl_s=60, shared=theirs)
        assert await other.get("k", fetch) == "new"
        assert sent == ['"v1"']
    finally:
        await state.aclose()


class FilledMeanwhile(SharedTier):
    """A tier whose first read answers what was there, and then, before the reader goes on,
    another replica fills the keys and lets go of their fill leases (the race between one
    replica's read and its lead)."""

    def __init__(self, *args: Any, fill: Callable[[], Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fill_once: Callable[[], Any] | None = fill

    async def read_many(self, keys: Any) -> Any:
        answer = await super().read_many(keys)
        if self._fill_once is not None:
            fill, self._fill_once = self._fill_once, None
            await fill()
        return answer


async def test_a_replica_that_read_just_before_another_filled_does_not_fetch_again(
    redis_url: str, prefix: str
) -> None:
    # given two replicas, the other filling an entry right after this one read its absence
    state = RedisState(redis_url, prefix=prefix)
    theirs_shared = dataclasses.replace(state.shared(), owner="another-replica")
    theirs = SharedTier(theirs_shared, "garbage:reads", lease_s=5, wall_clock=time.time)

    async def their_fill() -> None:
        assert await theirs.lead("k")
        now = time.time()
        await theirs.write("k", SharedEntry("theirs", '"v1"', now + 60, now), 0, 600)
        await theirs.done("k")

    mine = FilledMeanwhile(
        state.shared(), "garbage:reads", lease_s=5, wall_clock=time.time, fill=their_fill
    )
    sent: list[str | None] = []

    async def fetch(etag: str | None) -> Fetched[str]:
        sent.append(etag)
        return Fetched("mine", '"v2"', None)

    cache: RevalidatingCache[str] = RevalidatingCache(maxsize=10, ttl_s=60, shared=mine)
    try:
        # when this replica misses, and takes the lease the other has just let go
        # then it serves the other's entry and asks the department nothing
        assert await cache.get("k", fetch) == "theirs"
        assert sent == []
    finally:
        await state.aclose()


async def test_keyed_reads_filled_meanwhile_by_another_replica_are_not_fetched_again(
    redis_url: str, prefix: str
) -> None:
    # given two replicas' keyed caches, the other filling two of three keys just after this
    # one read them all missing
    state = RedisState(redis_url, prefix=prefix)
    theirs_shared = dataclasses.replace(state.shared(), owner="another-replica")
    theirs = SharedTier(theirs_shared, "ccb:queues", lease_s=5, wall_clock=time.time)

    async def their_fill() -> None:
        now = time.time()
        for key in ("b1", "b2"):
            assert await theirs.lead(key)
            await theirs.write(key, SharedEntry(f"q-{key}", None, now + 60, now), 0, 600)
            await theirs.done(key)

    mine = FilledMeanwhile(
        state.shared(), "ccb:queues", lease_s=5, wall_clock=time.time, fill=their_fill
    )
    asked: list[list[str]] = []

    async def fetch(keys: list[str]) -> dict[str, str]:
        asked.append(keys)
        return {key: f"mine-{key}" for key in keys}

    cache: KeyedCache[str] = KeyedCache(maxsize=10, ttl_s=60, clock=time.monotonic, shared=mine)
    try:
        # when this replica takes the three leases: it fetches only the key nobody filled
        got = await cache.get_many(["b1", "b2", "b3"], fetch)
        assert got == {"b1": "q-b1", "b2": "q-b2", "b3": "mine-b3"}
        assert asked == [["b3"]]
    finally:
        await state.aclose()


async def test_an_error_answer_falls_back_for_that_operation_only(
    redis_url: str, prefix: str
) -> None:
    # given a bucket key that holds something else (a string, not a hash)
    refused: list[str] = []
    state = RedisState(redis_url, prefix=prefix, on_unavailable=refused.append)
    client = redis.Redis.from_url(redis_url)
    client.set(f"{prefix}ratelimit:resident:resident:R000001", "not a bucket")
    client.close()
    try:
        # when the rate limiter takes a token there, Redis answers WRONGTYPE
        with pytest.raises(SharedUnavailable):
            await state.token_bucket("ratelimit:resident:resident:R000001", 3, 1.0)
        # then that operation is counted as a fallback, but Redis is not taken for gone
        assert refused == ["ratelimit"] and state.up
        assert (await state.token_bucket("ratelimit:resident:resident:R000002", 3, 1.0))[0]
    finally:
        await state.aclose()


class LocalRedis:
    """A redis-server of the test's own on a free port, to stop mid-run."""

    def __init__(self, directory: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed (scripts/test installs it)")
        self.port = free_ports(1)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.command += ["--appendonly", "no", "--dir", str(directory)]
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while True:
            try:
                redis.Redis.from_url(self.url, socket_timeout=1).ping()
                return
            except RedisError:
                assert time.monotonic() < deadline, "redis-server never answered"
                time.sleep(0.05)  # another process starting: poll it until the deadline

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)


@pytest.fixture
def local_redis(tmp_path: Path) -> Iterator[LocalRedis]:
    server = LocalRedis(tmp_path)
    yield server
    server.stop()


def test_redis_going_away_mid_run_degrades_without_errors(
    start_hub: Callable[..., LiveHub],
    local_redis: LocalRedis,
    token_for: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a hub on a Redis that answers
    hub = start_hub(redis_url=local_redis.url, redis_prefix="ihub-gone:")
    token = token_for("R000001")
    assert "errors" not in hub.graphql(CATEGORIES, token=token).json()
    assert metric(hub, "ihub_shared_state_up") == 1
    assert hub.client.get("/readyz").json()["sharedState"] == {"status": "ok"}
    # when Redis goes away
    local_redis.stop()
    with caplog.at_level(logging.WARNING, logger="ihub.shared"):
        # then residents are still answered: rate limits, caches and APQ fall back to the
        # process, a department read that misses goes to the department itself
        again = hub.graphql(CATEGORIES, token=token)
        fresh = hub.graphql('{ garbageSorting { classify(item: "纸箱") { match { name } } } }')
        query = "{ garbageSorting { categories { code } } } # " + uuid.uuid4().hex
        extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha(query)}}
        registered = hub.client.post("/graphql", json={"query": query, "extensions": extensions})
        by_hash = hub.client.post("/graphql", json={"extensions": extensions})
    for answer in (again, fresh, registered, by_hash):
        assert answer.status_code == 200 and "errors" not in answer.json(), answer.text
    assert fresh.json()["data"]["garbageSorting"]["classify"]["match"]["name"] == "纸箱"
    # and the operators are told: a warning, a counter, a gauge
    assert any("shared state unreachable" in r.getMessage() for r in caplog.records)
    assert metric(hub, "ihub_shared_state_unavailable_total") >= 1
    assert metric(hub, "ihub_shared_state_up") == 0
    # and the hub is still ready (it runs on its own), saying that Redis is unreachable
    ready = hub.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["sharedState"] == {"status": "unreachable"}
    # when Redis is back, the hub uses it again once its retry interval has passed
    local_redis.start()
    deadline = time.monotonic() + 30
    while hub.client.get("/readyz").json()["sharedState"] != {"status": "ok"}:
        assert time.monotonic() < deadline, "the hub never went back to Redis"
        time.sleep(0.1)  # the hub retries Redis on its own schedule: poll until the deadline
    assert metric(hub, "ihub_shared_state_up") == 1
    assert hub.graphql(CATEGORIES, token=token).status_code == 200


def test_a_hub_started_without_its_redis_answers_all_the_same(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str]
) -> None:
    # given a hub whose Redis is a closed port from the start
    hub = start_hub(redis_url=f"redis://127.0.0.1:{free_ports(1)}/0")
    # when residents and anonymous callers ask
    answers = [hub.graphql(CATEGORIES, token=token_for("R000002")) for _ in range(3)]
    answers.append(hub.graphql(CATEGORIES))
    # then they are answered, and the fallback is counted
    assert all(a.status_code == 200 and "errors" not in a.json() for a in answers)
    assert metric(hub, "ihub_shared_state_unavailable_total") >= 1


def test_replicas_without_a_shared_applicant_key_are_warned(
    start_hub: Callable[..., LiveHub], redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given hubs meant to be replicas (one Redis), one without HUB_APPLICANT_REF_KEY
    with caplog.at_level(logging.WARNING, logger="ihub"):
        start_hub(redis_url=redis_url, redis_prefix=prefix, applicant_ref_key="ab" * 32)
        assert not [r for r in caplog.records if "HUB_APPLICANT_REF_KEY" in r.getMessage()]
        start_hub(redis_url=redis_url, redis_prefix=prefix)
    # then the one without it says that its retries would not be recognised elsewhere
    warned = [r for r in caplog.records if "HUB_APPLICANT_REF_KEY" in r.getMessage()]
    assert len(warned) == 1 and warned[0].levelno == logging.WARNING


def test_the_exchange_and_the_credential_check_limits_are_the_app_s_not_each_replica_s() -> None:
    # the exchange takes 30 calls a second per app and the credential check 5: with a shared
    # state every replica takes its calls from the one allowance (connectors.quota)
    environment: dict[str, str] = {}
    assert department_policy(environment, "population").app_calls_per_second == 30
    assert department_policy(environment, "credentials").app_calls_per_second == 5
    override = {"HUB_POPULATION_APP_CALLS_PER_SECOND": "12"}
    assert department_policy(override, "population").app_calls_per_second == 12
