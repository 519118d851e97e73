"""Naive mode (``HUB_NAIVE``), the benchmark baseline: no caches, no batching, no coalescing.

The same answers as the optimised hub, only more upstream calls: one per ``load`` (batches of
one, no per-request memo) and one per read (nothing kept across requests, nothing shared
between requests in flight). Access tokens stay cached: they are credentials, not data.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.cache import NOT_MODIFIED, Fetched, NotModified, RevalidatingCache, ttl_cache
from connectors.keyed import KeyedCache
from connectors.loaders import BatchLoader, FanOutLoader
from hub.settings import DEV_DEPARTMENTS, Settings, SettingsError
from tests.support import LiveHub, MockAdmin

BOOKS = "GET /opac/api/book/batch"
LOANS = "GET /openlib/service/barcode/rdloanlist"
LOAN_BOOKS = "{ me { library { loans { barcode dueDate book { title author publisher } } } } }"

ITEMS = "GET /api/items"
CATEGORIES = "GET /api/categories"
CLASSIFY = """query Classify($item: String!) { garbageSorting { classify(item: $item) {
  query match { name tip category { code name binColor } } suggestions { name } } } }"""

LIST_BY_IDS = "GET /v3/lock/listByIds"
KEY_LIST = "GET /v3/key/list"
KEYS = "{ me { keys { id status canOpenRemotely lock { id name kind battery } } } }"

MEMBER_APPS = "GET /api/v1/members/{member_no}/applications"
COURSE = "GET /api/v1/courses/{course_id}"
HOUSEHOLD = """{ me { household { members { id kind youthCenter {
  applications { id state course { id name fee { yuan } } } } } } } }"""

ICBC_LIST, ICBC_QUEUES = "POST /api/branch.list", "POST /api/branch.queue.query"
CCB_LIST, CCB_QUEUE = "POST /api/wd.list", "POST /api/wd.pdxx"
# no ``items``: item lists per branch would make 50 calls a bank, over the mocks' 50 calls/s
BRANCHES = "{ bankWindows { branches(first: 50) { totalCount edges { node { id bank name queue { waiting } } } } } }"


@pytest.fixture
def admins(mocks: Any) -> Iterator[dict[str, MockAdmin]]:
    """Every mock's admin surface, counters zeroed, no faults."""
    found = {name: MockAdmin(url) for name, url in mocks.urls.items()}
    for admin in found.values():
        admin.clear_faults()
        admin.reset()
    yield found
    for admin in found.values():
        admin.clear_faults()


def reset(admins: Mapping[str, MockAdmin]) -> None:
    for admin in admins.values():
        admin.reset()


def answered(hub: LiveHub, query: str, token: str | None = None, **variables: Any) -> Any:
    response = hub.graphql(query, variables or None, token=token)
    assert response.status_code == 200
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


# -- settings ------------------------------------------------------------------------------


def test_hub_naive_makes_every_department_naive_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ihub"):
        settings = Settings.from_env({"HUB_NAIVE": "true"})
    assert settings.naive is True
    assert {name: p.naive for name, p in settings.departments.items()} == dict.fromkeys(
        DEV_DEPARTMENTS, True
    )
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "HUB_NAIVE" in warnings[0].getMessage()
    assert "never for production" in warnings[0].getMessage()


def test_naive_is_off_by_default_silent_and_not_a_department_setting(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="ihub"):
        settings = Settings.from_env({"HUB_LIBRARY_NAIVE": "true", "HUB_NAIVE": "false"})
    assert settings.naive is False
    assert not any(p.naive for p in settings.departments.values())
    assert not caplog.records


def test_a_bad_hub_naive_is_refused() -> None:
    with pytest.raises(SettingsError, match="HUB_NAIVE"):
        Settings.from_env({"HUB_NAIVE": "sometimes"})


def test_the_departments_follow_the_one_switch() -> None:
    settings = Settings.from_env({})
    naive = settings.with_changes(naive=True)
    assert all(p.naive for p in naive.departments.values())
    assert not any(p.naive for p in naive.with_changes(naive=False).departments.values())


# -- the switch points, one per mechanism -------------------------------------------------


class Upstream:
    """A department that counts its calls and the validators it was sent."""

    def __init__(self) -> None:
        self.etags: list[str | None] = []

    async def fetch(self, etag: str | None) -> Fetched[str] | NotModified:
        self.etags.append(etag)
        await asyncio.sleep(0)  # stay in flight while the others arrive
        return NOT_MODIFIED if etag == "v1" else Fetched("value", "v1", None)


@pytest.mark.parametrize(("naive", "calls"), [(False, 1), (True, 6)])
async def test_a_naive_revalidating_cache_keeps_and_shares_nothing(naive: bool, calls: int) -> None:
    upstream = Upstream()
    values: RevalidatingCache[str] = RevalidatingCache(maxsize=10, ttl_s=60, naive=naive)
    # three at once, then three one after the other
    answers = list(await asyncio.gather(*(values.get("k", upstream.fetch) for _ in range(3))))
    answers += [await values.get("k", upstream.fetch) for _ in range(3)]
    assert answers == ["value"] * 6
    assert upstream.etags == [None] * calls, "naive: never a validator, never a 304"


@pytest.mark.parametrize(("naive", "fetched"), [(False, [["a", "b"]]), (True, [["a", "b"]] * 3)])
async def test_a_naive_keyed_cache_fetches_every_key_every_time(
    naive: bool, fetched: list[list[str]]
) -> None:
    asked: list[list[str]] = []

    async def fetch(keys: list[str]) -> Mapping[str, int]:
        asked.append(keys)
        await asyncio.sleep(0)
        return {key: ord(key) for key in keys}

    values: KeyedCache[int] = KeyedCache(maxsize=10, ttl_s=60, clock=lambda: 0.0, naive=naive)
    first, second = await asyncio.gather(
        values.get_many(["a", "b"], fetch), values.get_many(["a", "b"], fetch)
    )
    third = await values.get_many(["a", "b"], fetch)
    assert first == second == third == {"a": ord("a"), "b": ord("b")}
    assert asked == fetched


def test_a_naive_record_cache_keeps_nothing() -> None:
    kept: Any = ttl_cache(maxsize=10, ttl_s=60, clock=lambda: 0.0)
    dropped: Any = ttl_cache(maxsize=10, ttl_s=60, clock=lambda: 0.0, naive=True)
    for cache in (kept, dropped):
        cache["a"] = 1
        cache.update({"b": 2})
    assert (dict(kept), dict(dropped), dropped.get("a")) == ({"a": 1, "b": 2}, {}, None)


@pytest.mark.parametrize(
    ("naive", "batches"), [(False, [["a", "b"]]), (True, [["a"], ["b"], ["a"], ["a"]])]
)
async def test_a_naive_batch_loader_makes_one_call_per_load(
    naive: bool, batches: list[list[str]]
) -> None:
    asked: list[list[str]] = []

    async def load_many(keys: Sequence[str]) -> Mapping[str, str]:
        asked.append(list(keys))
        return {key: key.upper() for key in keys}

    loader: BatchLoader[str, str] = BatchLoader(load_many, naive=naive)
    together = await asyncio.gather(loader.load("a"), loader.load("b"), loader.load("a"))
    again = await loader.load("a")
    assert (list(together), again) == (["A", "B", "A"], "A")
    assert sorted(asked) == sorted(batches)


@pytest.mark.parametrize(("naive", "calls"), [(False, ["a"]), (True, ["a", "a", "a"])])
async def test_a_naive_fan_out_loader_does_not_remember(naive: bool, calls: list[str]) -> None:
    asked: list[str] = []

    async def load_one(key: str) -> str:
        asked.append(key)
        return key.upper()

    loader: FanOutLoader[str, str] = FanOutLoader(load_one, naive=naive)
    assert await asyncio.gather(loader.load("a"), loader.load("a")) == ["A", "A"]
    assert await loader.load("a") == "A"
    assert asked == calls


# -- end to end, against the mocks --------------------------------------------------------


def test_loans_with_books_take_one_book_call_per_loan_every_time(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin], token_for: Callable[..., str]
) -> None:
    library, token = admins["library"], token_for("R000001")
    # given the optimised hub's answer: one loan list and one batch of ten
    expected = answered(start_hub(), LOAN_BOOKS, token)
    assert (library.calls(LOANS), library.calls(BOOKS)) == (1, 1)
    reset(admins)
    # when a naive hub is asked the same, twice
    naive = start_hub(naive=True)
    first = answered(naive, LOAN_BOOKS, token)
    # then the answer is the same, from one loan list and one batch of one per loan
    loans = first["me"]["library"]["loans"]
    assert first == expected and len(loans) == 10
    assert (library.calls(LOANS), library.calls(BOOKS)) == (1, 10)
    assert library.stats()["batch_sizes"][BOOKS] == [1] * 10
    # and nothing was kept for the second request
    assert answered(naive, LOAN_BOOKS, token) == expected
    assert (library.calls(LOANS), library.calls(BOOKS)) == (2, 20)


def test_identical_classify_requests_are_neither_cached_nor_coalesced(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    garbage = admins["garbage"]
    # given the optimised hub: the second identical request asks nothing
    optimised = start_hub()
    expected = answered(optimised, CLASSIFY, item="充电宝")
    assert answered(optimised, CLASSIFY, item="充电宝") == expected
    assert (garbage.calls(ITEMS), garbage.calls(CATEGORIES)) == (1, 1)
    reset(admins)
    # when a naive hub is asked twice, one after the other
    naive = start_hub(naive=True)
    for _ in range(2):
        assert answered(naive, CLASSIFY, item="充电宝") == expected
    # then each request made its own calls, never conditional
    assert (garbage.answers(ITEMS, 200), garbage.answers(CATEGORIES, 200)) == (2, 2)
    assert garbage.total() == 4
    # and ten at the same moment share nothing: ten look-ups
    reset(admins)
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: answered(naive, CLASSIFY, item="充电宝"), range(10)))
    assert answers == [expected] * 10
    assert (garbage.calls(ITEMS), garbage.calls(CATEGORIES)) == (10, 10)


def test_keys_take_one_lock_call_per_key(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin], token_for: Callable[..., str]
) -> None:
    cloud, token = admins["locks"], token_for("R000001")
    expected = answered(start_hub(), KEYS, token)
    assert cloud.stats()["batch_sizes"][LIST_BY_IDS] == [12]
    reset(admins)
    naive = start_hub(naive=True)
    for requests in (1, 2):
        assert answered(naive, KEYS, token) == expected
        # no prefetch, no batch, no cache: one listByIds of one id per key, every request
        assert (cloud.calls(KEY_LIST), cloud.calls(LIST_BY_IDS)) == (requests, 12 * requests)
    assert cloud.stats()["batch_sizes"][LIST_BY_IDS] == [1] * 24


def test_a_household_takes_one_course_call_per_application_every_time(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin], token_for: Callable[..., str]
) -> None:
    youth, token = admins["youth"], token_for("R000005")
    expected = answered(start_hub(), HOUSEHOLD, token)
    members = expected["me"]["household"]["members"]
    applications = [
        a for m in members if m["youthCenter"] for a in m["youthCenter"]["applications"]
    ]
    distinct = {a["course"]["id"] for a in applications}
    assert len(distinct) < len(applications), "some course is applied for twice"
    assert youth.answers(COURSE, 200) == len(distinct)
    reset(admins)
    naive = start_hub(naive=True)
    for requests in (1, 2):
        assert answered(naive, HOUSEHOLD, token) == expected
        # answered calls: the center allows 20 a second, and a refused call is retried
        assert youth.answers(MEMBER_APPS, 200) == 3 * requests
        assert youth.answers(COURSE, 200) == len(applications) * requests


def test_branch_queues_take_one_call_per_branch_every_time(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    icbc, ccb = admins["icbc"], admins["ccb"]

    def calls() -> tuple[int, int, int, int]:
        return (
            icbc.calls(ICBC_LIST),
            icbc.calls(ICBC_QUEUES),
            ccb.calls(CCB_LIST),
            ccb.calls(CCB_QUEUE),
        )

    def shape(data: Any) -> list[tuple[str, str, str, bool]]:
        nodes = [edge["node"] for edge in data["bankWindows"]["branches"]["edges"]]
        return [(n["id"], n["bank"], n["name"], n["queue"] is not None) for n in nodes]

    optimised = start_hub()
    expected = answered(optimised, BRANCHES)
    answered(optimised, BRANCHES)
    assert calls() == (1, 1, 1, 10), "ICBC batches its queues; CCB has no batch call"
    reset(admins)
    naive = start_hub(naive=True)
    for requests in (1, 2):
        data = answered(naive, BRANCHES)
        assert shape(data) == shape(expected) and len(shape(data)) == 20
        assert calls() == (requests, 10 * requests, requests, 10 * requests)
    assert icbc.stats()["batch_sizes"][ICBC_QUEUES] == [1] * 20
