"""Garbage-sorting records, as the hub understands them (never the CMS's raw payload)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class BinCategory(Enum):
    RECYCLABLE = "RECYCLABLE"
    HAZARDOUS = "HAZARDOUS"
    KITCHEN = "KITCHEN"
    OTHER = "OTHER"
    BULKY = "BULKY"
    GREEN = "GREEN"


@dataclass(frozen=True)
class Category:
    code: BinCategory
    name: str
    bin_color: str
    description: str


@dataclass(frozen=True)
class Item:
    name: str
    aliases: tuple[str, ...]
    category: BinCategory
    tip: str
    special_stream: str | None


@dataclass(frozen=True)
class Classification:
    """The answer to "which bin for X?": an exact match, or suggestions to choose from."""

    query: str
    match: Item | None
    suggestions: tuple[Item, ...]


@dataclass(frozen=True)
class ArticleSummary:
    id: str
    title: str
    summary: str
    cover_url: str | None
    published_at: datetime
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Article:
    summary: ArticleSummary
    body_html: str
    """Already sanitised: safe to render."""


@dataclass(frozen=True)
class ArticlePage:
    total: int
    items: tuple[ArticleSummary, ...]


@dataclass(frozen=True)
class OpeningWindow:
    start: str
    end: str


@dataclass(frozen=True)
class CollectionPoint:
    id: str
    community_id: str
    name: str
    address: str
    longitude: float
    latitude: float
    open_hours: tuple[OpeningWindow, ...]
    accepts: tuple[BinCategory, ...]


@dataclass(frozen=True)
class CommunityEvent:
    id: str
    title: str
    community_id: str | None
    starts_at: datetime
    ends_at: datetime
    place: str


@dataclass(frozen=True)
class DateRange:
    start: date
    end: date
