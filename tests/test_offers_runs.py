"""The scan under its database lease, against the population mock, on SQLite and PostgreSQL:
a scanner that stops mid-scan is resumed from its cursor by the next (no offer made twice, no
page read again), two scanners at once make one run, a scanner that lost its lease writes
nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import aiohttp
import httpx
import pytest
from sqlmodel import Session, select

from connectors.population import PopulationConnector
from hub.offers.proactive import PROACTIVE
from hub.offers.scan import Candidate, MemorySink, Reason, scan
from hub.offers.scheduler import Scanner
from hub.offers.store import LeaseLost, OfferStore, run_id
from hub.store.db import Database, create_tables, make_engine
from hub.store.models import Offer, OfferDelivery, OfferScan
from tests.gov import policy
from tests.offers_support import MovingClock
from tests.support import BackgroundMocks

ELDERLY = PROACTIVE["elderly_allowance"]
PAGE = 40
LEASE_S = 60.0


class Stop(Exception):
    """The scanner's process stops here (a crash, a deploy)."""


@pytest.fixture
async def population(mocks: BackgroundMocks) -> AsyncIterator[PopulationConnector]:
    async with aiohttp.ClientSession() as session:
        yield PopulationConnector(session, policy("population", mocks.urls["population"]))


@pytest.fixture
def clock(mocks: BackgroundMocks) -> MovingClock:
    as_of = httpx.get(f"{mocks.urls['population']}/__admin/cases").json()["as_of"]
    return MovingClock(datetime.fromisoformat(f"{as_of}T10:00:00+08:00"))


@pytest.fixture
def store(fresh_database_url: str) -> OfferStore:
    engine = make_engine(fresh_database_url)
    create_tables(engine)
    return OfferStore(Database(engine))


def scanner(store: OfferStore, population: PopulationConnector, clock: MovingClock,
            holder: str) -> Scanner:  # fmt: skip
    return Scanner(
        store, {"population": population}, clock=clock, count=lambda *_: None,
        lease_s=LEASE_S, page_size=PAGE, holder=holder,
    )  # fmt: skip


async def everyone(population: PopulationConnector, clock: MovingClock) -> MemorySink:
    sink = MemorySink()
    await scan(ELDERLY, population=population, today=clock().date(), sink=sink, page_size=PAGE)
    return sink


def rows(store: OfferStore) -> tuple[list[Offer], list[OfferDelivery], OfferScan | None]:
    engine = store._database.engine
    with Session(engine) as session:
        offers = list(session.exec(select(Offer)).all())
        deliveries = list(session.exec(select(OfferDelivery)).all())
        runs = list(session.exec(select(OfferScan)).all())
    return offers, deliveries, runs[0] if runs else None


async def test_a_stopped_scan_resumes_from_its_cursor(
    store: OfferStore, population: PopulationConnector, clock: MovingClock
) -> None:
    # given: everyone the scan offers to, read in one go
    full = await everyone(population, clock)
    assert len(full.cursors) > 3 and full.candidates
    pages_seen = []

    def stop_after_two(persons: int) -> None:
        pages_seen.append(persons)
        if len(pages_seen) == 2:
            raise Stop

    # when: the first scanner stops after two pages
    first = scanner(store, population, clock, "first")
    with pytest.raises(Stop):
        await first.scan_item(ELDERLY.code, progress=stop_after_two)
    offers, _, run = rows(store)
    assert run is not None and run.pages == 2 and run.cursor == full.cursors[1]
    made_before = len(offers)
    # and it had died holding the lease: nobody else scans until the lease lapses
    day = clock().date()
    assert await store.take_lease(ELDERLY.code, day, "first", clock(), LEASE_S) is not None
    second = scanner(store, population, clock, "second")
    assert await second.scan_item(ELDERLY.code) is None
    clock.advance(seconds=LEASE_S + 1)
    result = await second.scan_item(ELDERLY.code)
    # then: the second resumed after the two pages and finished; every candidate offered once
    assert result is not None and result.pages == len(full.cursors) - 2
    offers, deliveries, run = rows(store)
    keys = {(o.item_code, o.subject, o.period) for o in offers}
    assert len(offers) == len(keys) == len({(c.id_number, c.period) for c in full.candidates})
    assert made_before < len(offers)
    assert len(deliveries) == len(offers) * len(ELDERLY.channels)
    assert run is not None and run.finished_at is not None and run.cursor is None
    assert run.pages == len(full.cursors)
    # and the day's run is done: a later scanner does nothing
    assert await scanner(store, population, clock, "third").scan_item(ELDERLY.code) is None


async def test_two_scanners_at_once_make_one_run(
    store: OfferStore, population: PopulationConnector, clock: MovingClock
) -> None:
    full = await everyone(population, clock)
    results = await asyncio.gather(
        scanner(store, population, clock, "one").scan_item(ELDERLY.code),
        scanner(store, population, clock, "two").scan_item(ELDERLY.code),
    )
    assert sorted(r is None for r in results) == [False, True]
    offers, deliveries, _ = rows(store)
    assert len(offers) == len(full.candidates)
    assert len(deliveries) == len(offers) * len(ELDERLY.channels)


async def test_a_scanner_that_lost_its_lease_writes_nothing(
    store: OfferStore, clock: MovingClock
) -> None:
    day = clock().date()
    assert await store.take_lease(ELDERLY.code, day, "old", clock(), LEASE_S)
    clock.advance(seconds=LEASE_S + 1)
    assert await store.take_lease(ELDERLY.code, day, "new", clock(), LEASE_S)
    candidate = Candidate(
        ELDERLY.code, "440303195601010011", "张三", "13800000000", Reason.NOW, day, "once"
    )
    with pytest.raises(LeaseLost):
        await store.accept_page(
            run_id(ELDERLY.code, day), "old", [candidate], "next", 1, clock(), LEASE_S
        )
    offers, deliveries, run = rows(store)
    assert offers == [] and deliveries == []
    assert run is not None and run.cursor is None and run.lease_holder == "new"
    # the new holder's page goes in, once, however often it is offered again
    for _ in range(2):
        await store.accept_page(
            run_id(ELDERLY.code, day), "new", [candidate], "next", 1, clock(), LEASE_S
        )
    offers, _, run = rows(store)
    assert len(offers) == 1 and run is not None and run.pages == 2
