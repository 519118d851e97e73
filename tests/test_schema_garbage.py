"""The schema executed directly (no HTTP), on real loaders over the real garbage mock.

Asserts what the loaders promise: one upstream call per distinct key within a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from connectors.base import DepartmentPolicy
from connectors.garbage import GarbageConnector, GarbageLoaders
from hub.context import RequestLoaders
from schema import HubSchema, build_schema
from schema.context import Principal, ResidentProfile
from tests.support import MockAdmin

POINTS = "GET /api/collection-points"
ARTICLE = "GET /api/articles/{id}"


class NoResidents:
    async def profile(self, resident_id: str) -> ResidentProfile | None:
        return None


@dataclass
class Context:
    loaders: RequestLoaders
    request_id: str = "test"
    principal: Principal = field(default_factory=Principal.anonymous)
    directory: NoResidents = field(default_factory=NoResidents)


@pytest.fixture(scope="module")
def schema() -> HubSchema:
    return build_schema()


@pytest.fixture
async def connector(garbage: MockAdmin) -> AsyncIterator[GarbageConnector]:
    async with aiohttp.ClientSession() as session:
        yield GarbageConnector(session, DepartmentPolicy(base_url=garbage.url))


def context(connector: GarbageConnector) -> Context:
    return Context(loaders=RequestLoaders({"garbage": connector}))


async def test_one_call_per_distinct_community_within_a_request(
    schema: HubSchema, connector: GarbageConnector, garbage: MockAdmin
) -> None:
    query = """{
      a: garbageSorting { collectionPoints(communityId: "C001") { id } }
      b: garbageSorting { collectionPoints(communityId: "C001") { name } }
      c: garbageSorting { collectionPoints(communityId: "C002") { id } }
    }"""
    result = await schema.execute(query, context_value=context(connector))
    assert result.errors is None
    assert result.data is not None and len(result.data["c"]["collectionPoints"]) == 2
    assert garbage.calls(POINTS) == 2


async def test_article_bodies_of_a_page_are_loaded_once_each(
    schema: HubSchema, connector: GarbageConnector, garbage: MockAdmin
) -> None:
    query = """{
      garbageSorting {
        articles(first: 5) { edges { node { id bodyHtml } } }
        again: articles(first: 5) { edges { node { bodyHtml } } }
      }
    }"""
    result = await schema.execute(query, context_value=context(connector))
    assert result.errors is None
    assert garbage.calls(ARTICLE) == 5
    assert garbage.calls("GET /api/articles") == 1


async def test_loaders_are_not_shared_between_requests(
    schema: HubSchema, connector: GarbageConnector
) -> None:
    first, second = context(connector), context(connector)
    assert first.loaders.get(GarbageLoaders) is first.loaders.get(GarbageLoaders)
    assert first.loaders.get(GarbageLoaders) is not second.loaders.get(GarbageLoaders)


async def test_anonymous_me_is_unauthenticated_without_touching_anything(
    schema: HubSchema, connector: GarbageConnector, garbage: MockAdmin
) -> None:
    result = await schema.execute("{ me { name } }", context_value=context(connector))
    assert result.data == {"me": None}
    assert result.errors is not None
    assert result.errors[0].extensions == {"code": "UNAUTHENTICATED"}
    assert garbage.total() == 0
