"""The catalogue's schema executed directly on a catalogue that answers with scores and
highlights: what the hub's search index says reaches the client as it is (the index itself is
tested with the copy; the end-to-end tests run on the hub's real copy)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import pytest

from connectors.catalogue.models import Channel, Item, Material, MaterialKind
from schema import HubSchema, build_schema
from schema.context import (
    CatalogueCounts,
    Highlight,
    ItemFilter,
    ItemHit,
    ItemResults,
    Principal,
)

FUND = Item(
    impl_code="0002000030004403030" + "2",
    basic_code="000200003000",
    local_code="GJJ-0003",
    name="住房公积金提取",
    dept_code="440303-GJJ",
    dept_name="深圳市住房公积金管理中心",
    kind="行政给付",
    legal_basis="《住房公积金管理条例》",
    promise_days=3,
    legal_days=10,
    visits=0,
    online_level=4,
    instant=False,
    channels=(Channel.HALL,),
    fee_fen=0,
    materials=(Material("户口簿", MaterialKind.COPY, 1, True, "深圳市公安局罗湖分局"),),
    conditions="缴存职工购房、退休或离职。",
    life_stages=("housing",),
    groups=(),
    updated_at=dt.datetime(2026, 1, 2, 3, 4, 5),
)


@dataclass
class Catalogue:
    """A catalogue whose index found ``FUND`` for whatever was asked, and remembers the asks."""

    asked: list[ItemFilter] = field(default_factory=list)

    async def items(self, where: ItemFilter, *, offset: int, limit: int) -> ItemResults:
        self.asked.append(where)
        hit = ItemHit(
            FUND,
            score=2.5,
            highlights=(
                Highlight("name", FUND.name, ((2, 5),)),
                Highlight("conditions", FUND.conditions, ((0, 2), (4, 6))),
            ),
        )
        return ItemResults(total=1, hits=(hit,))

    async def counts(self) -> CatalogueCounts:
        return CatalogueCounts({}, {}, {"440303-GJJ": ("公积金中心", 1)}, 1)

    async def items_by_codes(self, codes: Iterable[str]) -> Mapping[str, Item]:
        return {}


@dataclass
class Context:
    catalogue: Catalogue
    request_id: str = "test"
    principal: Principal = field(default_factory=Principal.anonymous)


@pytest.fixture(scope="module")
def schema() -> HubSchema:
    return build_schema()


SEARCH = """{ services { items(first: 5, filter: {query: "  gjj ", department: "440303-GJJ",
  lifeStage: HOUSING, channel: HALL, type: BENEFIT, instant: false}) {
  edges { score highlights { field text ranges { start end } fragments }
    node { name materials { name replaceableByELicense hubELicense } } } } } }"""


async def test_scores_and_highlights_come_through(schema: HubSchema) -> None:
    catalogue = Catalogue()
    result = await schema.execute(SEARCH, context_value=Context(catalogue))
    assert result.errors is None and result.data is not None
    [edge] = result.data["services"]["items"]["edges"]
    assert edge["score"] == 2.5
    assert edge["highlights"] == [
        {
            "field": "name",
            "text": "住房公积金提取",
            "ranges": [{"start": 2, "end": 5}],
            "fragments": ["公积金"],
        },
        {
            "field": "conditions",
            "text": "缴存职工购房、退休或离职。",
            "ranges": [{"start": 0, "end": 2}, {"start": 4, "end": 6}],
            "fragments": ["缴存", "购房"],
        },
    ]
    assert edge["node"]["materials"] == [
        {"name": "户口簿", "replaceableByELicense": True, "hubELicense": "HOUSEHOLD"}
    ]
    # the filter reached the catalogue as the copy's vocabulary, the query trimmed
    assert catalogue.asked == [
        ItemFilter(
            life_stage="housing",
            department="440303-GJJ",
            kind="行政给付",
            instant=False,
            channel=Channel.HALL,
            query="gjj",
        )
    ]
