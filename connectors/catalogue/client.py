"""The province's service-item catalogue (事项库): read-only REST with ``X-Api-Key``.

- A refused key is ``UpstreamRejected(code="unauthorized")``, a refused parameter
  ``UpstreamRejected(code="bad_request")``; a missing item or scenario is ``None``.
- Pages are 1-based, at most 100 items; ``all_items()`` reads page 1 for the total, then the
  other pages at once (the bulkhead bounds them): ⌈N / 100⌉ calls in all.
- ``items_by_codes`` de-duplicates and sends batches of at most 50, at once; the answer is
  keyed by code (the upstream leaves unknown codes out).
- Nothing is cached here: the catalogue is reference data the hub copies into its own index
  (``all_items()``) and keeps fresh with ``changes_since()``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar
from urllib.parse import quote

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.catalogue import mapping
from connectors.catalogue.models import (
    Changes,
    Disclosure,
    Item,
    ItemPage,
    PublicService,
    Scenario,
    ScenarioSummary,
)
from connectors.errors import UpstreamNotFound, UpstreamPayloadError, UpstreamRejected
from connectors.observer import Observer
from connectors.payload import error_code

T = TypeVar("T")

BATCH_ENDPOINT = "GET /api/items:batch"


class CatalogueConnector(Connector):
    """Typed reads of the service-item catalogue: items, changes, scenarios, services, 公开."""

    department = "catalogue"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer)
        self._api_key = policy.credentials.get("api_key", "")

    async def items_page(self, page: int, size: int = mapping.MAX_PAGE_SIZE) -> ItemPage:
        """Page ``page`` (1-based) of ``size`` ≤ 100 items; past the last page, no items."""
        if page < 1 or not 1 <= size <= mapping.MAX_PAGE_SIZE:
            raise ValueError(f"page ≥ 1 and 1 ≤ size ≤ {mapping.MAX_PAGE_SIZE}")
        params = {"page": str(page), "size": str(size)}
        return await self._get("/api/items", params, mapping.item_page)

    async def all_items(self) -> tuple[Item, ...]:
        """Every item, in catalogue order, each once."""
        size = mapping.MAX_PAGE_SIZE
        first = await self.items_page(1, size)
        rest = await asyncio.gather(
            *(self.items_page(page, size) for page in range(2, math.ceil(first.total / size) + 1))
        )
        unique: dict[str, Item] = {}
        for found in (first, *rest):
            for item in found.items:
                unique.setdefault(item.impl_code, item)
        return tuple(unique.values())

    async def item(self, impl_code: str) -> Item | None:
        path = f"/api/items/{quote(impl_code, safe='')}"
        return await self._find(path, mapping.item, endpoint="/api/items/{impl_code}")

    async def items_by_codes(self, codes: Iterable[str]) -> Mapping[str, Item]:
        """The items of ``codes`` by code; unknown codes are missing from the answer."""
        wanted = list(dict.fromkeys(code for code in codes if code))
        batches = [
            wanted[start : start + mapping.MAX_BATCH]
            for start in range(0, len(wanted), mapping.MAX_BATCH)
        ]
        answers = await asyncio.gather(*(self._batch(batch) for batch in batches))
        asked = set(wanted)
        return {
            item.impl_code: item for found in answers for item in found if item.impl_code in asked
        }

    async def changes_since(self, since: datetime) -> Changes:
        """Items changed at or after ``since``; continue from the answer's ``until``."""
        params = {"since": mapping.format_time(since)}
        return await self._get("/api/changes", params, mapping.changes)

    async def scenarios(self) -> tuple[ScenarioSummary, ...]:
        return await self._get("/api/scenarios", {}, mapping.scenario_summaries)

    async def scenario(self, scenario_id: str) -> Scenario | None:
        path = f"/api/scenarios/{quote(scenario_id, safe='')}"
        return await self._find(path, mapping.scenario, endpoint="/api/scenarios/{id}")

    async def public_services(self) -> tuple[PublicService, ...]:
        return await self._get("/api/public-services", {}, mapping.public_services)

    async def disclosures(self, category: str | None = None) -> tuple[Disclosure, ...]:
        """政务公开 entries of ``category`` (``decision`` …), or of every category."""
        params = {"category": category} if category else {}
        return await self._get("/api/disclosures", params, mapping.disclosures)

    async def _batch(self, codes: list[str]) -> tuple[Item, ...]:
        self.record_batch(BATCH_ENDPOINT, len(codes))
        params = {"codes": ",".join(codes)}
        return await self._get("/api/items:batch", params, mapping.item_list)

    async def _find(
        self, path: str, to_record: Callable[[object], T], *, endpoint: str
    ) -> T | None:
        try:
            return await self._get(path, {}, to_record, endpoint=endpoint)
        except UpstreamNotFound:
            return None

    async def _get(
        self,
        path: str,
        params: Mapping[str, str],
        to_record: Callable[[object], T],
        *,
        endpoint: str | None = None,
    ) -> T:
        headers = {"X-Api-Key": self._api_key, "Accept": "application/json"}
        response = await self._request(
            "GET", path, params=params, headers=headers, endpoint=endpoint
        )
        if response.status == 404:
            raise UpstreamNotFound(self.department, f"GET {path}: not found")
        if response.status != 200:
            code = error_code(response.body)
            detail = f"GET {path}: HTTP {response.status} {code or ''}".strip()
            raise UpstreamRejected(self.department, detail, code=code)
        payload = response.json(self.department)
        try:
            return to_record(payload)
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"GET {path}: {exc.detail}") from exc
