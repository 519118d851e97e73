"""The garbage-sorting content service: public reads, ETags, ``Cache-Control``.

Every read goes through one ``RevalidatingCache``: fresh answers cost no call, expired ones
are revalidated with ``If-None-Match`` (a ``304`` costs no body and no re-mapping), and
identical reads in flight share one call.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import TypeVar
from urllib.parse import quote

from connectors.base import Connector
from connectors.cache import NOT_MODIFIED, Fetched, NotModified, RevalidatingCache
from connectors.errors import UpstreamNotFound, UpstreamRejected
from connectors.garbage import mapping
from connectors.garbage.models import (
    Article,
    ArticlePage,
    ArticleSummary,
    Category,
    Classification,
    CollectionPoint,
    CommunityEvent,
    Item,
)
from connectors.paging import page_slice

T = TypeVar("T")

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)
SUGGESTIONS = 10


def _max_age(headers: Mapping[str, str]) -> float | None:
    control = headers.get("Cache-Control", "")
    if "no-store" in control.lower() or "no-cache" in control.lower():
        return 0.0
    found = _MAX_AGE.search(control)
    return float(found.group(1)) if found else None


class GarbageConnector(Connector):
    """Typed reads of the garbage-sorting CMS."""

    department = "garbage"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cache: RevalidatingCache[object] = RevalidatingCache(
            maxsize=self.policy.cache_size,
            ttl_s=self.policy.cache_ttl_s,
            clock=self.clock,
            stale_if_error_s=self.policy.stale_if_error_s,
            observe=self.observe_cache,
            naive=self.policy.naive,
            shared=self.shared_tier("reads"),
            wait_s=self.policy.timeout_s,
        )

    async def categories(self) -> tuple[Category, ...]:
        return await self._read("/api/categories", {}, mapping.categories)

    async def search_items(self, query: str, limit: int = SUGGESTIONS) -> tuple[Item, ...]:
        params = {"q": mapping.normalize_query(query), "limit": str(limit)}
        return await self._read("/api/items", params, mapping.items)

    async def classify(self, query: str) -> Classification:
        """One upstream search answers both the exact match and the suggestions."""
        return mapping.classification(query, await self.search_items(query))

    async def articles(self, *, page: int, size: int, tag: str | None) -> ArticlePage:
        params = {"page": str(page), "size": str(size)}
        if tag:
            params["tag"] = tag
        return await self._read("/api/articles", params, mapping.article_page)

    async def article_slice(self, *, offset: int, limit: int, tag: str | None) -> ArticlePage:
        """Articles ``offset`` … ``offset + limit - 1`` from the page-numbered upstream."""

        async def fetch_page(page: int, size: int) -> tuple[int, tuple[ArticleSummary, ...]]:
            found = await self.articles(page=page, size=size, tag=tag)
            return found.total, found.items

        total, items = await page_slice(fetch_page, offset=offset, limit=limit)
        return ArticlePage(total=total, items=tuple(items))

    async def article(self, article_id: str) -> Article | None:
        try:
            return await self._read(
                f"/api/articles/{quote(article_id, safe='')}", {}, mapping.article
            )
        except UpstreamNotFound:
            return None

    async def collection_points(self, community_id: str) -> tuple[CollectionPoint, ...]:
        params = {"community_id": community_id}
        return await self._read("/api/collection-points", params, mapping.collection_points)

    async def events(self, start: date, end: date) -> tuple[CommunityEvent, ...]:
        params = {"from": start.isoformat(), "to": end.isoformat()}
        return await self._read("/api/events", params, mapping.events)

    async def _read(
        self, path: str, params: Mapping[str, str], to_record: Callable[[object], T]
    ) -> T:
        key = (path, tuple(sorted(params.items())))

        async def fetch(etag: str | None) -> Fetched[object] | NotModified:
            headers = {"Accept": "application/json"}
            if etag:
                headers["If-None-Match"] = etag
            response = await self._request("GET", path, params=params, headers=headers)
            if response.status == 304 and etag:
                return NOT_MODIFIED
            if response.status == 404:
                raise UpstreamNotFound(self.department, f"GET {path}: not found")
            if response.status != 200:
                raise UpstreamRejected(self.department, f"GET {path}: HTTP {response.status}")
            try:
                value = to_record(response.json(self.department))
            except Exception:
                self.payload_error(f"GET {path}: unexpected payload")
                raise
            return Fetched(value, response.headers.get("ETag"), _max_age(response.headers))

        return await self.cache.get(key, fetch)  # type: ignore[return-value]
