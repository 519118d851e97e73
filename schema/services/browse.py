"""``services``: browse and search the catalogue, its stages, groups, departments and guides.

Every field answers from the hub's copy of the catalogue (``info.context.catalogue``), never
by calling the catalogue: a search is the copy's, ranked, with its highlights.
"""

from __future__ import annotations

import strawberry

from schema.context import HubInfo, ItemFilter, ItemHit
from schema.errors import BadUserInput
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor, page_info
from schema.services.items import ServiceItem, item_of
from schema.services.scenarios import ScenarioGuide, ScenarioSummary, guide_of, summary_of
from schema.services.types import (
    GROUP_NAMES,
    LIFE_STAGE_NAMES,
    Disclosure,
    DisclosureCategory,
    GroupCount,
    ItemType,
    LifeStage,
    LifeStageCount,
    PublicService,
    SearchHighlight,
    ServiceChannel,
    ServiceDepartment,
    ServiceGroup,
    TextRange,
)

CURSOR = "service-item"


@strawberry.input(description="What to narrow the catalogue to; every given field must hold.")
class ServiceItemFilter:
    life_stage: LifeStage | None = None
    group: ServiceGroup | None = None
    department: strawberry.ID | None = strawberry.field(
        default=None, description="A department code from `services.departments`."
    )
    type: ItemType | None = None
    instant: bool | None = strawberry.field(default=None, description="秒批 items only (or not).")
    channel: ServiceChannel | None = None
    query: str | None = strawberry.field(
        default=None,
        description="What a resident typed: words, pinyin, initials. Ranks by relevance.",
    )


@strawberry.type(description="An item in a list, with why a search found it.")
class ServiceItemEdge:
    cursor: str
    node: ServiceItem
    score: float | None = strawberry.field(description="Relevance, for a search; else null.")
    highlights: list[SearchHighlight] = strawberry.field(
        description="Where the search matched (empty without `query`)."
    )


@strawberry.type(description="A page of catalogue items: relevance order for a search.")
class ServiceItemConnection:
    edges: list[ServiceItemEdge]
    page_info: PageInfo
    total_count: int


def edge_of(hit: ItemHit, offset: int) -> ServiceItemEdge:
    return ServiceItemEdge(
        cursor=encode_cursor(CURSOR, offset),
        node=item_of(hit.item),
        score=hit.score,
        highlights=[
            SearchHighlight(
                field=h.field,
                text=h.text,
                ranges=[TextRange(start=start, end=end) for start, end in h.ranges],
            )
            for h in hit.highlights
        ],
    )


async def where_of(info: HubInfo, given: ServiceItemFilter | None) -> ItemFilter:
    """The copy's filter for ``given``; an unknown department is bad input."""
    if given is None:
        return ItemFilter()
    if given.department is not None:
        departments = (await info.context.catalogue.counts()).departments
        if str(given.department) not in departments:
            raise BadUserInput("`department` is not a catalogue department.", field="department")
    return ItemFilter(
        life_stage=given.life_stage.value if given.life_stage else None,
        group=given.group.value if given.group else None,
        department=str(given.department) if given.department is not None else None,
        kind=given.type.value if given.type else None,
        instant=given.instant,
        channel=given.channel.channel if given.channel else None,
        query=(given.query or "").strip() or None,
    )


@strawberry.type(description="一网通办 · The service catalogue, by stage, group and scenario.")
class Services:
    @strawberry.field(description="Items, filtered and paged; with `query`, a ranked search.")
    async def items(
        self,
        info: HubInfo,
        first: int = 10,
        after: str | None = None,
        filter: ServiceItemFilter | None = None,
    ) -> ServiceItemConnection | None:
        limit, offset = check_first(first), decode_cursor(CURSOR, after)
        where = await where_of(info, filter)
        found = await info.context.catalogue.items(where, offset=offset, limit=limit)
        edges = [edge_of(hit, offset + i) for i, hit in enumerate(found.hits)]
        return ServiceItemConnection(
            edges=edges,
            page_info=page_info(CURSOR, offset, len(edges), found.total),
            total_count=found.total,
        )

    @strawberry.field(description="One item by implementation code or local code; null if unknown.")
    async def item(self, info: HubInfo, code: strawberry.ID) -> ServiceItem | None:
        found = await info.context.catalogue.item(str(code))
        return item_of(found) if found else None

    @strawberry.field(description="人生阶段 · The nine life stages and their items.")
    async def life_stages(self, info: HubInfo) -> list[LifeStageCount] | None:
        counts = (await info.context.catalogue.counts()).life_stages
        return [
            LifeStageCount(
                code=stage, name=LIFE_STAGE_NAMES[stage], item_count=counts.get(stage.value, 0)
            )
            for stage in LifeStage
        ]

    @strawberry.field(description="特殊群体 · The special groups and their items.")
    async def groups(self, info: HubInfo) -> list[GroupCount] | None:
        counts = (await info.context.catalogue.counts()).groups
        return [
            GroupCount(code=group, name=GROUP_NAMES[group], item_count=counts.get(group.value, 0))
            for group in ServiceGroup
        ]

    @strawberry.field(description="The implementing departments, by code.")
    async def departments(self, info: HubInfo) -> list[ServiceDepartment] | None:
        found = (await info.context.catalogue.counts()).departments
        return [
            ServiceDepartment(code=strawberry.ID(code), name=name, item_count=count)
            for code, (name, count) in sorted(found.items())
        ]

    @strawberry.field(description="一件事 · The scenario guides.")
    async def scenarios(self, info: HubInfo) -> list[ScenarioSummary] | None:
        return [summary_of(s) for s in await info.context.catalogue.scenarios()]

    @strawberry.field(
        description="One scenario guide; null if unknown. Its form is pre-filled only under "
        "`me { services { scenario } }`."
    )
    async def scenario(self, info: HubInfo, id: strawberry.ID) -> ScenarioGuide | None:
        found = await info.context.catalogue.scenario(str(id))
        return guide_of(found, None) if found else None

    @strawberry.field(description="公共服务 · The district's public services.")
    async def public_services(self, info: HubInfo) -> list[PublicService] | None:
        return [
            PublicService(
                id=strawberry.ID(s.id),
                name=s.name,
                category=s.category,
                category_name=s.category_name,
                link=s.link,
            )
            for s in await info.context.catalogue.public_services()
        ]

    @strawberry.field(description="政务公开 · Disclosure entries, of one category if given.")
    async def disclosures(
        self, info: HubInfo, category: str | None = None
    ) -> list[Disclosure] | None:
        every = await info.context.catalogue.disclosures()
        if category is not None and category not in {d.category for d in every}:
            raise BadUserInput("`category` is not a disclosure category.", field="category")
        return [
            Disclosure(
                id=strawberry.ID(d.id),
                category=d.category,
                category_name=d.category_name,
                title=d.title,
                url=d.url,
                published_at=d.published_at,
            )
            for d in every
            if category is None or d.category == category
        ]

    @strawberry.field(description="The disclosure categories and their entry counts.")
    async def disclosure_categories(self, info: HubInfo) -> list[DisclosureCategory] | None:
        found: dict[str, DisclosureCategory] = {}
        for d in await info.context.catalogue.disclosures():
            entry = found.setdefault(
                d.category,
                DisclosureCategory(code=d.category, name=d.category_name, entry_count=0),
            )
            entry.entry_count += 1
        return list(found.values())


@strawberry.type
class ServicesQuery:
    @strawberry.field(
        description="一网通办 · Government services: the catalogue, scenario guides, public "
        "services and disclosures. Public: no token needed."
    )
    def services(self) -> Services | None:
        return Services()
