"""Pure functions: one garbage-sorting CMS payload in, one record out. No I/O."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from connectors.errors import UpstreamPayloadError
from connectors.garbage.html import sanitize_article_html
from connectors.garbage.models import (
    Article,
    ArticlePage,
    ArticleSummary,
    BinCategory,
    Category,
    Classification,
    CollectionPoint,
    CommunityEvent,
    Item,
    OpeningWindow,
)
from connectors.payload import Fields, elements

DEPARTMENT = "garbage"


def _bin(code: object, record: str) -> BinCategory:
    try:
        return BinCategory(code)
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"{record}: unknown category {code!r}") from exc


def category(payload: object) -> Category:
    f = Fields(payload, DEPARTMENT, "category")
    return Category(
        code=_bin(f.text("code"), "category"),
        name=f.text("name_zh"),
        bin_color=f.text("bin_color"),
        description=f.opt_text("description") or "",
    )


def categories(payload: object) -> tuple[Category, ...]:
    return tuple(category(element) for element in elements(payload, DEPARTMENT, "categories"))


def item(payload: object) -> Item:
    f = Fields(payload, DEPARTMENT, "item")
    return Item(
        name=f.text("name"),
        aliases=tuple(str(alias) for alias in f.opt_array("aliases")),
        category=_bin(f.text("category"), "item"),
        tip=f.opt_text("tip") or "",
        special_stream=f.opt_text("special_stream"),
    )


def items(payload: object) -> tuple[Item, ...]:
    return tuple(item(element) for element in elements(payload, DEPARTMENT, "items"))


def classification(query: str, candidates: Sequence[Item]) -> Classification:
    """An exact name or alias match wins; otherwise every candidate is a suggestion."""
    wanted = normalize_query(query)
    for candidate in candidates:
        names = (candidate.name, *candidate.aliases)
        if any(normalize_query(name) == wanted for name in names):
            others = tuple(c for c in candidates if c is not candidate)
            return Classification(query=query, match=candidate, suggestions=others)
    return Classification(query=query, match=None, suggestions=tuple(candidates))


def normalize_query(text: str) -> str:
    """What makes two questions the same question: case, width and surrounding space."""
    return unicodedata.normalize("NFKC", text).strip().casefold()


def article_summary(payload: object) -> ArticleSummary:
    f = Fields(payload, DEPARTMENT, "article")
    return ArticleSummary(
        id=f.text("id"),
        title=f.text("title"),
        summary=f.opt_text("summary") or "",
        cover_url=f.opt_text("cover_url"),
        published_at=f.timestamp("published_at"),
        tags=tuple(str(tag) for tag in f.opt_array("tags")),
    )


def article(payload: object) -> Article:
    f = Fields(payload, DEPARTMENT, "article")
    body = sanitize_article_html(f.text("body_html"))
    return Article(summary=article_summary(payload), body_html=body)


def article_page(payload: object) -> ArticlePage:
    f = Fields(payload, DEPARTMENT, "articles")
    return ArticlePage(
        total=f.integer("total"),
        items=tuple(article_summary(element) for element in f.array("items")),
    )


def opening_windows(text: str) -> tuple[OpeningWindow, ...]:
    """``"07:00-09:00,19:00-21:00"`` → two windows."""
    windows = []
    for part in filter(None, (chunk.strip() for chunk in text.split(","))):
        start, sep, end = part.partition("-")
        if not sep or len(start) != 5 or len(end) != 5:
            raise UpstreamPayloadError(DEPARTMENT, f"collection point: bad open_hours {text!r}")
        windows.append(OpeningWindow(start, end))
    return tuple(windows)


def collection_point(payload: object) -> CollectionPoint:
    f = Fields(payload, DEPARTMENT, "collection_point")
    return CollectionPoint(
        id=f.text("point_id"),
        community_id=f.text("community_id"),
        name=f.text("name"),
        address=f.opt_text("address") or "",
        longitude=f.number("lng"),
        latitude=f.number("lat"),
        open_hours=opening_windows(f.opt_text("open_hours") or ""),
        accepts=tuple(_bin(code, "collection_point") for code in f.opt_array("accepts")),
    )


def collection_points(payload: object) -> tuple[CollectionPoint, ...]:
    return tuple(
        collection_point(element) for element in elements(payload, DEPARTMENT, "collection_points")
    )


def event(payload: object) -> CommunityEvent:
    f = Fields(payload, DEPARTMENT, "event")
    return CommunityEvent(
        id=f.text("event_id"),
        title=f.text("title"),
        community_id=f.opt_text("community_id"),
        starts_at=f.timestamp("starts_at"),
        ends_at=f.timestamp("ends_at"),
        place=f.opt_text("place") or "",
    )


def events(payload: object) -> tuple[CommunityEvent, ...]:
    return tuple(event(element) for element in elements(payload, DEPARTMENT, "events"))
