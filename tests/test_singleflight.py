"""Identical live reads in flight at once share one upstream call; nothing is kept after.

``InFlight`` on its own (futures the test controls), then through real connectors against the
mocks: concurrent identical reads → one call (counted by the mock), a read after the shared one
answered → its own call, a read that starts after a write → never joins a read from before it.
Only reads are made here (the one write is a refused check-in of an unknown barcode).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from connectors.base import DepartmentPolicy
from connectors.errors import Refused, UpstreamUnavailable
from connectors.library import LibraryConnector
from connectors.locks import LocksConnector
from connectors.singleflight import InFlight
from connectors.youth import YouthConnector
from tests.support import BackgroundMocks, MockAdmin, counted_tasks, until

LOANS = "GET /openlib/service/barcode/rdloanlist"
GATEWAYS = "GET /v3/gateway/listByLock"
KEY_LIST = "GET /v3/key/list"
LIBRARY = {"appid": "ihub-dev", "secret": "dev-library-secret"}
LOCKS = {
    "client_id": "ihub-dev-client",
    "client_secret": "dev-lock-secret",
    "username": "luohu-property-platform",
    "password": "dev-lock-password",
}


# -- InFlight ------------------------------------------------------------------------------


async def test_concurrent_identical_reads_share_one_call() -> None:
    flights = InFlight()
    gate = asyncio.Event()
    calls = 0

    async def read() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "answer"

    waiters = [asyncio.ensure_future(flights.run("k", read)) for _ in range(20)]
    await until(lambda: calls == 1 and flights.shared == 19)
    gate.set()
    assert await asyncio.gather(*waiters) == ["answer"] * 20
    assert (calls, len(flights)) == (1, 0)
    # nothing is kept: the next read makes its own call
    assert await flights.run("k", read) == "answer"
    assert calls == 2


async def test_different_keys_do_not_share() -> None:
    flights = InFlight()
    seen: list[str] = []

    async def read(key: str) -> str:
        seen.append(key)
        await asyncio.sleep(0)
        return key

    answers = await asyncio.gather(*(flights.run(k, lambda k=k: read(k)) for k in "abab"))
    assert answers == ["a", "b", "a", "b"] and sorted(seen) == ["a", "b"]


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    flights = InFlight()
    gate = asyncio.Event()

    async def failing() -> str:
        await gate.wait()
        raise UpstreamUnavailable("library", "down")

    waiters = [asyncio.ensure_future(flights.run("k", failing)) for _ in range(3)]
    await until(lambda: flights.shared == 2)
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(result, UpstreamUnavailable) for result in results)

    async def ok() -> str:
        return "back"

    assert await flights.run("k", ok) == "back"


async def test_one_waiter_giving_up_does_not_cancel_the_others() -> None:
    flights = InFlight()
    gate = asyncio.Event()

    async def read() -> str:
        await gate.wait()
        return "answer"

    first = asyncio.ensure_future(flights.run("k", read))
    second = asyncio.ensure_future(flights.run("k", read))
    await until(lambda: flights.shared == 1)
    first.cancel()
    await until(first.done)
    gate.set()
    assert await second == "answer"
    assert first.cancelled()


class Numbered:
    """A read whose n-th call (from 0) answers n once ``gates[n]`` is set."""

    def __init__(self, calls: int) -> None:
        self.gates = [asyncio.Event() for _ in range(calls)]
        self.calls = 0

    async def read(self) -> int:
        number = self.calls
        self.calls += 1
        await self.gates[number].wait()
        return number


async def test_when_the_read_that_calls_gives_up_its_waiters_call_again_once() -> None:
    flights, reads = InFlight(), Numbered(2)
    first = asyncio.ensure_future(flights.run("k", reads.read))
    waiters = [asyncio.ensure_future(flights.run("k", reads.read)) for _ in range(3)]
    await until(lambda: flights.shared == 3)
    first.cancel()  # its call goes with it: the waiters make it again, one for all three
    await until(lambda: reads.calls == 2)
    reads.gates[1].set()
    assert await asyncio.gather(*waiters) == [1, 1, 1]
    assert first.cancelled() and (reads.calls, flights.shared, len(flights)) == (2, 3, 0)


async def test_a_read_makes_its_call_in_its_own_task() -> None:
    flights = InFlight()

    async def read() -> str:
        await asyncio.sleep(0)
        return "answer"

    with counted_tasks() as created:
        assert await flights.run("k", read) == "answer"
        together = await asyncio.gather(flights.run("j", read), flights.run("j", read))
    assert together == ["answer", "answer"] and flights.shared == 1
    # only gather's own two: neither the call nor the shared one got a task of its own
    assert created == Counter({"run": 2})


async def test_a_read_after_forget_makes_its_own_call() -> None:
    flights, reads = InFlight(), Numbered(2)
    before = asyncio.ensure_future(flights.run("k", reads.read))
    await until(lambda: reads.calls == 1)
    flights.forget()  # a write went out
    after = asyncio.ensure_future(flights.run("k", reads.read))
    await until(lambda: reads.calls == 2)
    reads.gates[1].set()
    assert await after == 1
    reads.gates[0].set()
    assert await before == 0 and flights.shared == 0


async def test_disabled_it_calls_every_time() -> None:
    flights = InFlight(enabled=False)
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0)
        return calls

    await asyncio.gather(*(flights.run("k", read) for _ in range(5)))
    assert calls == 5 and flights.shared == 0


# -- through the connectors, against the mocks ------------------------------------------------


def admin_for(mocks: BackgroundMocks, name: str) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls[name])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture
def library(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    yield from admin_for(mocks, "library")


@pytest.fixture
def locks(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    yield from admin_for(mocks, "locks")


@pytest.fixture
def youth(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    yield from admin_for(mocks, "youth")


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def policy(url: str, credentials: dict[str, str], **changes: Any) -> DepartmentPolicy:
    return DepartmentPolicy(base_url=url, timeout_s=5.0, credentials=credentials, **changes)


async def test_twenty_identical_loan_reads_make_one_call(
    session: aiohttp.ClientSession, library: MockAdmin
) -> None:
    connector = LibraryConnector(session, policy(library.url, LIBRARY))
    await connector.reader("LH000001")  # the token, first
    library.reset()
    answers = await asyncio.gather(*(connector.loans("LH000001") for _ in range(20)))
    assert library.calls(LOANS) == 1
    assert all(answer == answers[0] for answer in answers) and len(answers[0]) == 10
    # live, not cached: a later read asks again
    await connector.loans("LH000001")
    assert library.calls(LOANS) == 2
    # another card is another call
    await asyncio.gather(connector.loans("LH000001"), connector.loans("LH000002"))
    assert library.calls(LOANS) == 4


async def test_a_read_that_starts_after_a_write_does_not_join_an_older_one(
    session: aiohttp.ClientSession, library: MockAdmin
) -> None:
    connector = LibraryConnector(session, policy(library.url, LIBRARY))
    await connector.reader("LH000001")
    library.reset()
    library.faults(latency_ms=300)  # both reads are still in flight when the second starts
    before = asyncio.ensure_future(connector.loans("LH000001"))
    await until(lambda: len(connector.reads_in_flight) == 1)
    # a write (refused by the library: an unknown copy) goes out while the read is in flight
    write = asyncio.ensure_future(
        connector.give_back("044009999999", request_id=f"test-{uuid.uuid4().hex}")
    )
    await until(lambda: len(connector.reads_in_flight) == 0)
    after = asyncio.ensure_future(connector.loans("LH000001"))
    assert await before == await after
    with pytest.raises(Refused):
        await write
    assert library.calls(LOANS) == 2


async def test_lock_reads_are_matched_without_their_time_stamp(
    session: aiohttp.ClientSession, locks: MockAdmin
) -> None:
    # every lock-cloud call carries the time in milliseconds: the URL alone never matches
    connector = LocksConnector(session, policy(locks.url, LOCKS))
    await connector.keys("700001")  # the token, first
    locks.reset()
    keys, *_ = await asyncio.gather(*(connector.keys("700001") for _ in range(10)))
    gateways = await asyncio.gather(*(connector.gateways(10001) for _ in range(10)))
    assert (locks.calls(KEY_LIST), locks.calls(GATEWAYS)) == (1, 1)
    assert len(keys) == 12 and all(each == gateways[0] for each in gateways)


async def test_youth_applications_are_shared_and_naive_mode_turns_it_off(
    session: aiohttp.ClientSession, youth: MockAdmin
) -> None:
    endpoint = "GET /api/v1/members/{member_no}/applications"
    credentials = {"api_key": "dev-youth-key"}
    shared = YouthConnector(session, policy(youth.url, credentials))
    naive = YouthConnector(session, policy(youth.url, credentials, naive=True))
    member = "Y00031"  # a child of household 3 (mocks.common.people)
    await asyncio.gather(*(shared.applications(member) for _ in range(8)))
    assert youth.calls(endpoint) == 1
    await asyncio.gather(*(naive.applications(member) for _ in range(8)))
    assert youth.calls(endpoint) == 1 + 8
