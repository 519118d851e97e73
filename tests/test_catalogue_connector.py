"""The catalogue connector against the real catalogue mock, over loopback HTTP."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import aiohttp
import httpx
import pytest

from connectors.base import DepartmentPolicy
from connectors.catalogue import CatalogueConnector
from connectors.catalogue.models import Channel, ItemStatus, MaterialKind
from connectors.errors import UpstreamPayloadError, UpstreamRejected, UpstreamUnavailable
from hub.settings import DEV_DEPARTMENTS
from mocks.common.launcher import MockConfig, MockSpec
from tests.support import BackgroundMocks, MockAdmin

SPEC = MockSpec("catalogue", 0, "mocks.catalogue:create_app")
PAGES = "GET /api/items"
BATCH = "GET /api/items:batch"
TOTAL = 1201


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    """A catalogue of this module's own: the change test edits an item."""
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


def policy(url: str, api_key: str = DEV_DEPARTMENTS["catalogue"][1]["api_key"]) -> DepartmentPolicy:
    return DepartmentPolicy(base_url=url, timeout_s=5.0, credentials={"api_key": api_key})


def change_upstream(catalogue: MockAdmin, impl_code: str, **fields: object) -> None:
    """The mock's own admin route: edit an item, which stamps its ``updated_at`` now."""
    httpx.post(f"{catalogue.url}/__admin/items/{impl_code}", json=fields).raise_for_status()


def admin_change_status(catalogue: MockAdmin, impl_code: str, **fields: object) -> int:
    return httpx.post(f"{catalogue.url}/__admin/items/{impl_code}", json=fields).status_code


@pytest.fixture
async def connector(catalogue: MockAdmin) -> AsyncIterator[CatalogueConnector]:
    async with aiohttp.ClientSession() as session:
        yield CatalogueConnector(session, policy(catalogue.url))


async def test_a_page_is_one_based_and_the_last_is_short(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    first = await connector.items_page(1, 100)
    assert first.total == TOTAL and len(first.items) == 100
    last = await connector.items_page(math.ceil(TOTAL / 100), 100)
    assert len(last.items) == TOTAL % 100
    assert (await connector.items_page(99, 100)).items == ()
    assert catalogue.calls(PAGES) == 3
    with pytest.raises(ValueError):
        await connector.items_page(1, 101)
    assert catalogue.calls(PAGES) == 3, "a page too large never leaves the hub"


async def test_all_items_walks_every_page_once(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    items = await connector.all_items()
    assert len(items) == TOTAL
    assert len({item.impl_code for item in items}) == TOTAL
    assert catalogue.calls(PAGES) == math.ceil(TOTAL / 100)
    # both shapes of materials decoded to the same records
    assert all(item.materials and item.materials[0].name == "居民身份证" for item in items)
    assert sum(item.instant for item in items) == 111
    at_banks = {item.local_code for item in items if Channel.BANK in item.channels}
    assert len(at_banks) == 340 and "GJJ-0003" in at_banks
    assert all(item.updated_at.tzinfo is not None for item in items)


async def test_items_by_codes_sends_batches_of_fifty(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    codes = [item.impl_code for item in (await connector.items_page(1, 100)).items]
    codes += [item.impl_code for item in (await connector.items_page(2, 100)).items[:20]]
    assert len(codes) == 120
    catalogue.reset()
    # when asked for 120 codes (plus a repeat and an unknown one)
    found = await connector.items_by_codes([*codes, codes[0], "NO-SUCH-CODE"])
    # then three calls: 50 + 50 + 21, and every known code answered by code
    assert catalogue.calls(BATCH) == 3
    assert sorted(catalogue.stats()["batch_sizes"][BATCH]) == [21, 50, 50]
    assert set(found) == set(codes)
    assert all(found[code].impl_code == code for code in codes)
    assert await connector.items_by_codes([]) == {}
    assert catalogue.calls(BATCH) == 3


async def test_item_by_code_or_none(connector: CatalogueConnector) -> None:
    first = (await connector.items_page(1, 1)).items[0]
    assert await connector.item(first.impl_code) == first
    assert await connector.item("NO-SUCH-CODE") is None


async def test_changes_feed_reports_an_item_changed_upstream(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    # given a client that has read everything up to now
    start = await connector.changes_since(datetime.now(UTC) + timedelta(days=-1))
    quiet = await connector.changes_since(start.until)
    assert quiet.items == ()
    # when the catalogue changes an item
    target = (await connector.items_page(3, 1)).items[0]
    change_upstream(catalogue, target.impl_code, promise_days=1, fee=500)
    # then the feed from the last ``until`` reports it, changed
    changed = await connector.changes_since(quiet.until)
    assert [item.impl_code for item in changed.items] == [target.impl_code]
    assert changed.items[0].fee_fen == 500
    assert changed.items[0].updated_at >= quiet.until
    assert changed.until >= quiet.until


async def test_a_withdrawn_item_says_so_in_pages_and_in_the_changes_feed(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    # given an item in force, and a client that has read the feed up to now
    target = (await connector.items_page(4, 1)).items[0]
    assert target.status is ItemStatus.ACTIVE
    quiet = await connector.changes_since(datetime.now(UTC) - timedelta(minutes=1))
    # when the catalogue withdraws it
    change_upstream(catalogue, target.impl_code, status="withdrawn")
    try:
        # then the feed reports it withdrawn, and so does its page
        changed = await connector.changes_since(quiet.until)
        reported = {i.impl_code: i.status for i in changed.items}
        assert reported[target.impl_code] is ItemStatus.WITHDRAWN
        assert (await connector.items_page(4, 1)).items[0].status is ItemStatus.WITHDRAWN
    finally:
        change_upstream(catalogue, target.impl_code, status="active")
    assert admin_change_status(catalogue, target.impl_code, status="retired") == 400


async def test_all_items_reports_its_progress_page_by_page(connector: CatalogueConnector) -> None:
    seen: list[tuple[int, int]] = []
    await connector.all_items(lambda done, pages: seen.append((done, pages)))
    pages = math.ceil(TOTAL / 100)
    assert seen == [(done, pages) for done in range(1, pages + 1)]


async def test_scenarios_and_one_guide(connector: CatalogueConnector) -> None:
    listed = await connector.scenarios()
    assert len(listed) >= 40
    restaurant = next(s for s in listed if s.name == "开饭店")
    guide = await connector.scenario(restaurant.id)
    assert guide is not None
    assert len(guide.steps) == restaurant.item_count
    assert [step.order for step in guide.steps] == list(range(1, len(guide.steps) + 1))
    steps = {step.impl_code for step in guide.steps}
    assert all(set(m.item_codes) <= steps for m in guide.materials)
    assert any(m.kind is MaterialKind.E_LICENSE for m in guide.materials)
    assert {f.key for f in guide.form} >= {"id_number", "company_name"}
    assert await connector.scenario("SC999") is None


async def test_public_services_and_disclosures(connector: CatalogueConnector) -> None:
    assert len(await connector.public_services()) == 43
    everything = await connector.disclosures()
    assert len({entry.category for entry in everything}) == 11
    decisions = await connector.disclosures("decision")
    assert decisions and all(entry.category == "decision" for entry in decisions)
    with pytest.raises(UpstreamRejected) as refused:
        await connector.disclosures("nope")
    assert refused.value.code == "bad_request"


async def test_a_wrong_key_is_rejected_as_unauthorized(catalogue: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        connector = CatalogueConnector(session, policy(catalogue.url, api_key="wrong"))
        with pytest.raises(UpstreamRejected) as refused:
            await connector.scenarios()
    assert refused.value.code == "unauthorized"


async def test_a_garbage_body_is_a_payload_error(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    catalogue.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.items_page(1, 10)


async def test_concurrent_identical_page_reads_share_one_call(
    connector: CatalogueConnector, catalogue: MockAdmin
) -> None:
    pages = await asyncio.gather(*(connector.items_page(5, 100) for _ in range(10)))
    assert len({page.items for page in pages}) == 1
    assert catalogue.calls(PAGES) == 1


async def test_a_catalogue_that_is_down_is_unavailable(catalogue: MockAdmin) -> None:
    catalogue.faults(down=True)
    async with aiohttp.ClientSession() as session:
        connector = CatalogueConnector(session, replace(policy(catalogue.url), max_retries=0))
        with pytest.raises(UpstreamUnavailable):
            await connector.all_items()
    assert catalogue.calls(PAGES) == 1, "no page after the first when the first failed"
