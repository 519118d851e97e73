"""Garbage sorting (垃圾分类): which bin for what, articles, collection points, events."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from enum import Enum
from typing import Annotated

import strawberry

from connectors.garbage import GarbageLoaders
from connectors.garbage import models as m
from schema.context import HubInfo
from schema.errors import BadUserInput
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor, page_info

MAX_QUERY_LENGTH = 50
MAX_EVENT_RANGE = dt.timedelta(days=366)


@strawberry.enum(description="The sorting categories used in Shenzhen.")
class GarbageCategoryCode(Enum):
    RECYCLABLE = "RECYCLABLE"
    HAZARDOUS = "HAZARDOUS"
    KITCHEN = "KITCHEN"
    OTHER = "OTHER"
    BULKY = "BULKY"
    GREEN = "GREEN"


@strawberry.type(description="A sorting category and the bin it goes in.")
class GarbageCategory:
    code: GarbageCategoryCode
    name: str = strawberry.field(description="Chinese name, e.g. 有害垃圾.")
    bin_color: str = strawberry.field(description="Colour of the bin (blue, red, green, grey).")
    description: str


@strawberry.type(description="An entry of the sorting dictionary.")
class GarbageItem:
    name: str
    aliases: list[str]
    category: GarbageCategory
    tip: str = strawberry.field(description="How to put it out (drain it, wrap it …).")
    special_stream: str | None = strawberry.field(
        description="Set when the item goes to a special collection instead of a bin."
    )


@strawberry.type(description='The answer to "which bin for X?".')
class Classification:
    query: str
    match: GarbageItem | None = strawberry.field(description="The exact match, if any.")
    suggestions: list[GarbageItem] = strawberry.field(
        description="Entries whose name or alias starts with the query."
    )

    @strawberry.field(description="The category of the exact match, if any.")
    def category(self) -> GarbageCategory | None:
        return self.match.category if self.match else None


@strawberry.type(description="A daily collection window, local time (HH:MM).")
class OpeningWindow:
    start: str
    end: str


@strawberry.type(description="A place where residents hand in sorted waste.")
class CollectionPoint:
    id: strawberry.ID
    community_id: strawberry.ID
    name: str
    address: str
    longitude: float
    latitude: float
    open_hours: list[OpeningWindow]
    accepts: list[GarbageCategoryCode]


@strawberry.type(description="A community event about sorting (drives, talks, swaps).")
class CommunityEvent:
    id: strawberry.ID
    title: str
    community_id: strawberry.ID | None
    starts_at: dt.datetime
    ends_at: dt.datetime
    place: str


@strawberry.type(description="A garbage-sorting article.")
class Article:
    id: strawberry.ID
    title: str
    summary: str
    cover_url: str | None
    published_at: dt.datetime
    tags: list[str]
    preloaded_body: strawberry.Private[str | None] = None

    @strawberry.field(description="The article body as sanitised HTML, safe to render.")
    async def body_html(self, info: HubInfo) -> str | None:
        if self.preloaded_body is not None:
            return self.preloaded_body
        article = await info.context.loaders.get(GarbageLoaders).article_by_id.load(str(self.id))
        return article.body_html if article else None


@strawberry.type(description="An article and its position in the list.")
class ArticleEdge:
    cursor: str
    node: Article


@strawberry.type(description="A page of articles, newest first.")
class ArticleConnection:
    edges: list[ArticleEdge]
    page_info: PageInfo
    total_count: int


def category_of(
    code: m.BinCategory, categories: Mapping[m.BinCategory, m.Category]
) -> GarbageCategory:
    known = categories.get(code)
    return GarbageCategory(
        code=GarbageCategoryCode(code.value),
        name=known.name if known else code.value,
        bin_color=known.bin_color if known else "",
        description=known.description if known else "",
    )


def item_of(item: m.Item, categories: Mapping[m.BinCategory, m.Category]) -> GarbageItem:
    return GarbageItem(
        name=item.name,
        aliases=list(item.aliases),
        category=category_of(item.category, categories),
        tip=item.tip,
        special_stream=item.special_stream,
    )


def collection_point_of(point: m.CollectionPoint) -> CollectionPoint:
    return CollectionPoint(
        id=strawberry.ID(point.id),
        community_id=strawberry.ID(point.community_id),
        name=point.name,
        address=point.address,
        longitude=point.longitude,
        latitude=point.latitude,
        open_hours=[OpeningWindow(start=w.start, end=w.end) for w in point.open_hours],
        accepts=[GarbageCategoryCode(code.value) for code in point.accepts],
    )


def article_of(summary: m.ArticleSummary, body: str | None = None) -> Article:
    return Article(
        id=strawberry.ID(summary.id),
        title=summary.title,
        summary=summary.summary,
        cover_url=summary.cover_url,
        published_at=summary.published_at,
        tags=list(summary.tags),
        preloaded_body=body,
    )


def _loaders(info: HubInfo) -> GarbageLoaders:
    return info.context.loaders.get(GarbageLoaders)


async def _categories(loaders: GarbageLoaders) -> dict[m.BinCategory, m.Category]:
    return {c.code: c for c in await loaders.connector.categories()}


def _check_query(text: str, field: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > MAX_QUERY_LENGTH:
        raise BadUserInput(f"`{field}` must be 1 to {MAX_QUERY_LENGTH} characters.", field=field)
    return cleaned


@strawberry.type(
    description="垃圾分类 · Garbage sorting: categories, dictionary, articles, points, events."
)
class GarbageSorting:
    @strawberry.field(description="The sorting categories and their bins.")
    async def categories(self, info: HubInfo) -> list[GarbageCategory] | None:
        categories = await _categories(_loaders(info))
        return [category_of(code, categories) for code in categories]

    @strawberry.field(description='Which bin for this item? E.g. classify(item: "电池").')
    async def classify(self, info: HubInfo, item: str) -> Classification | None:
        query = _check_query(item, "item")
        loaders = _loaders(info)
        found, categories = await asyncio.gather(
            loaders.classification_by_query.load(query), _categories(loaders)
        )
        return Classification(
            query=query,
            match=item_of(found.match, categories) if found.match else None,
            suggestions=[item_of(s, categories) for s in found.suggestions],
        )

    @strawberry.field(description="Dictionary entries whose name or alias starts with `q`.")
    async def items(self, info: HubInfo, q: str, first: int = 10) -> list[GarbageItem] | None:
        loaders = _loaders(info)
        found, categories = await asyncio.gather(
            loaders.connector.search_items(_check_query(q, "q"), check_first(first)),
            _categories(loaders),
        )
        return [item_of(item, categories) for item in found]

    @strawberry.field(description="Articles, newest first, optionally with one tag.")
    async def articles(
        self, info: HubInfo, first: int = 10, after: str | None = None, tag: str | None = None
    ) -> ArticleConnection | None:
        limit = check_first(first)
        offset = decode_cursor("article", after)
        page = await _loaders(info).connector.article_slice(offset=offset, limit=limit, tag=tag)
        edges = [
            ArticleEdge(cursor=encode_cursor("article", offset + i), node=article_of(summary))
            for i, summary in enumerate(page.items)
        ]
        return ArticleConnection(
            edges=edges,
            page_info=page_info("article", offset, len(edges), page.total),
            total_count=page.total,
        )

    @strawberry.field(description="One article with its sanitised body, or null if unknown.")
    async def article(self, info: HubInfo, id: strawberry.ID) -> Article | None:
        found = await _loaders(info).article_by_id.load(str(id))
        return article_of(found.summary, found.body_html) if found else None

    @strawberry.field(description="Collection points of a community.")
    async def collection_points(
        self, info: HubInfo, community_id: strawberry.ID
    ) -> list[CollectionPoint] | None:
        points = await _loaders(info).collection_points_by_community.load(str(community_id))
        return [collection_point_of(point) for point in points]

    @strawberry.field(description="Events starting between two dates (inclusive).")
    async def events(
        self,
        info: HubInfo,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
    ) -> list[CommunityEvent] | None:
        if to < from_ or to - from_ > MAX_EVENT_RANGE:
            raise BadUserInput("`to` must be on or after `from`, at most a year later.", field="to")
        events = await _loaders(info).connector.events(from_, to)
        return [
            CommunityEvent(
                id=strawberry.ID(e.id),
                title=e.title,
                community_id=strawberry.ID(e.community_id) if e.community_id else None,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                place=e.place,
            )
            for e in events
        ]


@strawberry.type
class GarbageQuery:
    @strawberry.field(description="垃圾分类 · Garbage sorting. Public: no token needed.")
    def garbage_sorting(self) -> GarbageSorting | None:
        return GarbageSorting()
