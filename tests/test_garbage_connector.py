"""The garbage connector against the real garbage mock, over loopback HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest

from connectors.base import DepartmentPolicy
from connectors.errors import UpstreamPayloadError, UpstreamTimeout, UpstreamUnavailable
from connectors.garbage import GarbageConnector
from connectors.garbage.models import BinCategory
from tests.support import MockAdmin

ITEMS = "GET /api/items"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def connector(garbage: MockAdmin, clock: FakeClock) -> AsyncIterator[GarbageConnector]:
    async with aiohttp.ClientSession() as session:
        policy = DepartmentPolicy(base_url=garbage.url, timeout_s=2.0, cache_ttl_s=30.0)
        yield GarbageConnector(session, policy, clock=clock)


async def test_classify_finds_the_exact_item(connector: GarbageConnector) -> None:
    found = await connector.classify("电池")
    assert found.match is not None
    assert found.match.category is BinCategory.HAZARDOUS


async def test_classify_unknown_prefix_gives_suggestions_only(connector: GarbageConnector) -> None:
    found = await connector.classify("塑料")
    assert found.match is None or found.match.name == "塑料"
    assert found.suggestions, "a prefix of several entries suggests them"


async def test_concurrent_identical_reads_share_one_call(
    connector: GarbageConnector, garbage: MockAdmin
) -> None:
    answers = await asyncio.gather(*(connector.classify("旧衣服") for _ in range(20)))
    assert len({a.match for a in answers}) == 1
    assert garbage.calls(ITEMS) == 1


async def test_fresh_entry_costs_no_call_and_expired_one_is_revalidated(
    connector: GarbageConnector, garbage: MockAdmin, clock: FakeClock
) -> None:
    # given a cached answer
    first = await connector.classify("易拉罐")
    # when asked again within the TTL
    clock.now += 10
    assert await connector.classify("易拉罐") == first
    # then no second call
    assert garbage.calls(ITEMS) == 1
    # when the entry has expired
    clock.now += 60
    again = await connector.classify("易拉罐")
    # then the connector revalidated with If-None-Match and got a 304
    assert again == first
    assert garbage.calls(ITEMS) == 2
    assert garbage.answers(ITEMS, 304) == 1
    assert connector.cache.stats.revalidated == 1


async def test_unknown_article_is_none(connector: GarbageConnector) -> None:
    assert await connector.article("A9999") is None


async def test_article_bodies_come_back_sanitised(connector: GarbageConnector) -> None:
    article = await connector.article("A0001")
    assert article is not None
    body = article.body_html.lower()
    assert "<script" not in body and "onerror" not in body and "javascript:" not in body


async def test_article_slice_crosses_upstream_pages(connector: GarbageConnector) -> None:
    whole = await connector.articles(page=1, size=10, tag=None)
    sliced = await connector.article_slice(offset=3, limit=5, tag=None)
    assert [a.id for a in sliced.items] == [a.id for a in whole.items[3:8]]
    unaligned = await connector.article_slice(offset=7, limit=5, tag=None)
    assert [a.id for a in unaligned.items] == [a.id for a in whole.items[7:10]] + [
        a.id for a in (await connector.articles(page=3, size=5, tag=None)).items[:2]
    ]


async def test_down_upstream_is_unavailable_and_not_cached(
    connector: GarbageConnector, garbage: MockAdmin
) -> None:
    garbage.faults(down=True)
    with pytest.raises(UpstreamUnavailable) as raised:
        await connector.classify("纸箱")
    assert raised.value.department == "garbage"
    assert connector.health.status == "failing"
    garbage.clear_faults()
    assert (await connector.classify("纸箱")).match is not None
    assert connector.health.status == "ok"


async def test_garbage_body_is_a_payload_error(
    connector: GarbageConnector, garbage: MockAdmin
) -> None:
    garbage.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.classify("茶叶渣")


async def test_slow_upstream_times_out(garbage: MockAdmin) -> None:
    garbage.faults(latency_ms=600)
    async with aiohttp.ClientSession() as session:
        policy = DepartmentPolicy(base_url=garbage.url, timeout_s=0.2)
        with pytest.raises(UpstreamTimeout):
            await GarbageConnector(session, policy).classify("果皮")


async def test_refused_connection_is_unavailable() -> None:
    async with aiohttp.ClientSession() as session:
        policy = DepartmentPolicy(base_url="http://127.0.0.1:9", timeout_s=1)
        with pytest.raises(UpstreamUnavailable):
            await GarbageConnector(session, policy).categories()
