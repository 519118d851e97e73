"""The catalogue copy against a live catalogue mock and a real database (SQLite, PostgreSQL).

Upstream calls are counted by the mock (``/__admin/stats``); the copy is driven one refresh
at a time (``refresh()``), except where the background start itself is what is tested.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.catalogue.models import Channel
from connectors.degradation import collecting
from connectors.errors import UpstreamTimeout, UpstreamUnavailable
from hub.store import catalogue as store
from mocks.common.launcher import MockConfig
from schema.context import ItemFilter
from tests.catalogue_copies import (
    CHANGES,
    DATABASES,
    PAGES,
    SPEC,
    TOTAL,
    change_upstream,
    copy_of,
    engine_for,
)
from tests.support import BackgroundMocks, MockAdmin


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    """A catalogue of this module's own: its tests edit and withdraw items."""
    mocks = BackgroundMocks((SPEC,), MockConfig(state_dir=tmp_path_factory.mktemp("catalogue")))
    yield mocks
    mocks.close()


@pytest.fixture
def catalogue(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = MockAdmin(running.urls["catalogue"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from engine_for(request.param, tmp_path)


def rows(engine: Engine) -> dict[str, store.CatalogueItem]:
    with Session(engine) as session:
        return {row.impl_code: row for row in session.exec(select(store.CatalogueItem)).all()}


async def test_a_full_sync_fills_the_copy_in_thirteen_calls(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine) as copy:
        # when the copy is filled for the first time
        assert await copy.refresh() == "full"
        # then it read every page once (⌈1201 / 100⌉), and the guides
        assert catalogue.calls(PAGES) == 13
        assert catalogue.calls(CHANGES) == 0
        counts = await copy.counts()
        assert counts.total == TOTAL
        assert len(counts.life_stages) == 9 and sum(counts.life_stages.values()) == 116
        instant = await copy.items(ItemFilter(instant=True), offset=0, limit=1)
        assert instant.total == 111
        assert len(await copy.scenarios()) >= 40
        assert len(await copy.public_services()) == 43
        assert len({d.category for d in await copy.disclosures()}) == 11
        assert copy.freshness().stale is False and copy.freshness().synced_at is not None
    # and the database holds it: the payload and the columns filters read
    stored = rows(engine)
    assert len(stored) == TOTAL and {row.status for row in stored.values()} == {"active"}
    bank = [row for row in stored.values() if "|bank|" in row.channels]
    assert len(bank) == 340


async def test_reads_make_no_catalogue_call(catalogue: MockAdmin, engine: Engine) -> None:
    async with copy_of(catalogue, engine) as copy:
        await copy.refresh()
        first = (await copy.items(ItemFilter(), offset=0, limit=1)).hits[0].item
        scenario = (await copy.scenarios())[0]
        catalogue.reset()
        # when residents browse, search, open items and guides
        browsed = await copy.items(
            ItemFilter(life_stage="housing", channel=Channel.BANK), offset=0, limit=10
        )
        searched = await copy.items(ItemFilter(query="公积金"), offset=0, limit=10)
        assert await copy.item(first.impl_code) == first
        assert await copy.item(first.local_code) == first
        assert set(await copy.items_by_codes([first.impl_code, "NO-SUCH"])) == {first.impl_code}
        guide = await copy.scenario(scenario.id)
        await copy.counts()
        await copy.public_services()
        await copy.disclosures("decision")
        # then they were answered, and the catalogue was never called
        assert browsed.total > 0 and searched.total > 0
        assert guide is not None and len(guide.steps) == scenario.item_count
        assert catalogue.total() == 0


async def test_a_change_upstream_appears_after_one_refresh_with_one_changes_call(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine) as copy:
        await copy.refresh()
        target = (await copy.items(ItemFilter(), offset=17, limit=1)).hits[0].item
        catalogue.reset()
        # when the catalogue renames an item
        new_name = target.name + "（跨境通办）"
        change_upstream(catalogue, target.impl_code, name=new_name, fee=300)
        try:
            assert await copy.refresh() == "changes"
            # then one changes call brought it, and reads and search see it
            assert catalogue.calls(CHANGES) == 1 and catalogue.total() == 1
            changed = await copy.item(target.impl_code)
            assert changed is not None and (changed.name, changed.fee_fen) == (new_name, 300)
            found = await copy.items(ItemFilter(query="跨境通办"), offset=0, limit=5)
            assert [hit.item.impl_code for hit in found.hits] == [target.impl_code]
            assert (await copy.counts()).total == TOTAL
        finally:
            change_upstream(catalogue, target.impl_code, name=target.name, fee=target.fee_fen)


async def test_a_withdrawn_item_disappears_from_reads_and_search(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine) as copy:
        await copy.refresh()
        hits = (await copy.items(ItemFilter(query="住房公积金提取"), offset=0, limit=1)).hits
        target = hits[0].item
        assert target.name == "住房公积金提取"
        # when the catalogue withdraws it
        change_upstream(catalogue, target.impl_code, status="withdrawn")
        try:
            await copy.refresh()
            # then no read finds it, by either code, in a browse or a search
            assert await copy.item(target.impl_code) is None
            assert await copy.item(target.local_code) is None
            assert await copy.items_by_codes([target.impl_code]) == {}
            searched = await copy.items(ItemFilter(query="住房公积金提取"), offset=0, limit=50)
            assert target.impl_code not in {hit.item.impl_code for hit in searched.hits}
            browsed = await copy.items(ItemFilter(), offset=0, limit=TOTAL)
            assert target.impl_code not in {hit.item.impl_code for hit in browsed.hits}
            assert (await copy.counts()).total == browsed.total == TOTAL - 1
            assert rows(engine)[target.impl_code].status == "withdrawn"
        finally:
            change_upstream(catalogue, target.impl_code, status="active")
        # and once in force again, it is back
        await copy.refresh()
        assert await copy.item(target.impl_code) is not None


async def test_a_restart_resumes_from_the_cursor(catalogue: MockAdmin, engine: Engine) -> None:
    async with copy_of(catalogue, engine) as first:
        await first.refresh()
    catalogue.reset()
    # when a hub starts again on the same database
    async with copy_of(catalogue, engine) as again:
        again.start()
        counts = await again.counts()
        await asyncio.wait_for(again.refreshed.wait(), 30)
        # then it answers from what the database had and only asks for the changes since
        assert counts.total == TOTAL
        assert again.last_outcome == "changes"
        assert catalogue.calls(PAGES) == 0
        assert catalogue.calls(CHANGES) == 1
        assert (await again.items(ItemFilter(query="gjj"), offset=0, limit=1)).total > 0


async def test_the_first_read_waits_for_the_first_fill(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine) as copy:
        # when a read comes right after start, before anything is in the database
        copy.start()
        counts = await copy.counts()
        # then it waited for the fill and answers in full
        assert counts.total == TOTAL
        assert catalogue.calls(PAGES) == 13


async def test_an_outage_never_breaks_reads_and_says_they_are_stale(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine) as copy:
        await copy.refresh()
        synced = copy.freshness().synced_at
        # when the catalogue goes down and a refresh fails
        catalogue.faults(down=True)
        assert await copy.refresh() == "failed"
        # then reads still answer from the copy, and each records a stale serve
        with collecting() as serves:
            searched = await copy.items(ItemFilter(query="社保"), offset=0, limit=5)
            counts = await copy.counts()
        assert searched.total > 0 and counts.total == TOTAL
        assert serves and {serve.department for serve in serves} == {"catalogue"}
        assert copy.freshness().stale is True and copy.freshness().synced_at == synced
        status = copy.status()
        assert status["stale"] is True and "UpstreamUnavailable" in str(status["lastError"])
        # and once the catalogue is back, one refresh makes the copy fresh again
        catalogue.clear_faults()
        assert await copy.refresh() == "changes"
        with collecting() as serves:
            await copy.counts()
        assert serves == [] and copy.freshness().stale is False


async def test_an_outage_at_first_start_is_an_upstream_error_not_an_empty_catalogue(
    catalogue: MockAdmin, engine: Engine
) -> None:
    catalogue.faults(down=True)
    async with copy_of(catalogue, engine) as copy:
        copy.start()
        # a read waits only for the first attempt, which fails: nothing to answer with yet,
        # and "no items" would be a lie (a 404 for an item that exists)
        with pytest.raises(UpstreamUnavailable):
            await copy.counts()
        with pytest.raises(UpstreamUnavailable):
            await copy.item("GJJ-0003")
        assert copy.freshness().stale is True


async def test_a_fill_slower_than_the_wait_is_a_timeout_rather_than_a_hang(
    catalogue: MockAdmin, engine: Engine
) -> None:
    # given a catalogue far slower than the bound on a first read's wait
    catalogue.faults(latency_ms=3000)
    async with copy_of(catalogue, engine, start_wait_s=0.1) as copy:
        copy.start()
        # when a read comes before the first fill could end, then it gives up within the bound
        with pytest.raises(UpstreamTimeout):
            await copy.counts()
        assert copy.freshness().stale is False, "nothing has failed yet"


async def test_only_the_lease_holder_refreshes(catalogue: MockAdmin, engine: Engine) -> None:
    async with (
        copy_of(catalogue, engine, owner="replica-a") as a,
        copy_of(catalogue, engine, owner="replica-b") as b,
    ):
        # when two replicas on one database refresh at the same moment
        outcomes = sorted(await asyncio.gather(a.refresh(), b.refresh()))
        # then one filled the copy and the other followed: 13 page calls, not 26
        assert outcomes == ["follower", "full"]
        assert catalogue.calls(PAGES) == 13
        leader, follower = (a, b) if a.sync.leader else (b, a)
        await follower.load()
        assert (await follower.counts()).total == TOTAL
        # and a change the leader brings in reaches the follower through the database
        target = (await leader.items(ItemFilter(), offset=40, limit=1)).hits[0].item
        change_upstream(catalogue, target.impl_code, name="港澳居民来往内地通行证换发")
        try:
            catalogue.reset()
            assert await follower.refresh() == "follower"
            assert catalogue.total() == 0, "the follower never calls the catalogue"
            assert await leader.refresh() == "changes"
            await follower.load()
            moved = await follower.item(target.impl_code)
            assert moved is not None and moved.name == "港澳居民来往内地通行证换发"
        finally:
            change_upstream(catalogue, target.impl_code, name=target.name)
        # and when the leader stops (its lease released), the follower takes over
        await leader.stop()
        assert await follower.refresh() == "changes"
