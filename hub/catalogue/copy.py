"""``CatalogueCopy``: the catalogue as the hub holds it.

FIRST SLICE (interface only): the copy is read from the connector on first use and kept in
memory, filtered by plain comparisons. The database-backed copy, the sync (full then the
``changes`` feed), the search index and staleness replace this module's insides; the
methods and their meaning (``schema.context.ServiceCatalogue``) stay.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime

from connectors.catalogue import CatalogueConnector
from connectors.catalogue.models import (
    Disclosure,
    Item,
    PublicService,
    Scenario,
    ScenarioSummary,
)
from schema.context import (
    CatalogueCounts,
    CatalogueFreshness,
    ItemFilter,
    ItemHit,
    ItemResults,
)


class CatalogueCopy:
    def __init__(self, connector: Callable[[], CatalogueConnector]) -> None:
        self._connector = connector
        self._items: tuple[Item, ...] | None = None
        self._lock = asyncio.Lock()
        self._synced_at: datetime | None = None

    async def _all(self) -> tuple[Item, ...]:
        if self._items is None:
            async with self._lock:
                if self._items is None:
                    self._items = await self._connector().all_items()
                    self._synced_at = datetime.now(UTC)
        return self._items

    async def items(self, where: ItemFilter, *, offset: int, limit: int) -> ItemResults:
        selected = [item for item in await self._all() if _matches(item, where)]
        window = selected[offset : offset + limit]
        return ItemResults(total=len(selected), hits=tuple(ItemHit(item) for item in window))

    async def item(self, code: str) -> Item | None:
        return (await self.items_by_codes([code])).get(code)

    async def items_by_codes(self, codes: Iterable[str]) -> Mapping[str, Item]:
        items = await self._all()
        by_impl = {item.impl_code: item for item in items}
        by_local = {item.local_code: item for item in items}
        found = {}
        for code in codes:
            item = by_impl.get(code) or by_local.get(code)
            if item is not None:
                found[code] = item
        return found

    async def counts(self) -> CatalogueCounts:
        items = await self._all()
        stages = Counter(stage for item in items for stage in item.life_stages)
        groups = Counter(group for item in items for group in item.groups)
        depts: dict[str, tuple[str, int]] = {}
        for item in items:
            name, count = depts.get(item.dept_code, (item.dept_name, 0))
            depts[item.dept_code] = (name, count + 1)
        return CatalogueCounts(dict(stages), dict(groups), depts, len(items))

    async def scenarios(self) -> tuple[ScenarioSummary, ...]:
        return await self._connector().scenarios()

    async def scenario(self, scenario_id: str) -> Scenario | None:
        return await self._connector().scenario(scenario_id)

    async def public_services(self) -> tuple[PublicService, ...]:
        return await self._connector().public_services()

    async def disclosures(self, category: str | None = None) -> tuple[Disclosure, ...]:
        return await self._connector().disclosures(category)

    def freshness(self) -> CatalogueFreshness:
        return CatalogueFreshness(synced_at=self._synced_at, stale=False)


def _matches(item: Item, where: ItemFilter) -> bool:
    return (
        (where.life_stage is None or where.life_stage in item.life_stages)
        and (where.group is None or where.group in item.groups)
        and (where.department is None or where.department == item.dept_code)
        and (where.kind is None or where.kind == item.kind)
        and (where.instant is None or where.instant == item.instant)
        and (where.channel is None or where.channel in item.channels)
        and (not where.query or where.query in item.name)
    )
