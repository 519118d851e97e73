"""HTTP handlers of the garbage-sorting content service.

Every successful GET carries a strong ``ETag`` over the exact body bytes and
``Cache-Control: public, max-age=…``; ``If-None-Match`` with the current tag answers 304.
Bodies are serialised once (at startup, or on first use for query-dependent answers) so the
mock stays cheap under benchmark load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from aiohttp import web

from mocks.common.admin import Handler
from mocks.garbage import content

MAX_LIMIT = 50
CACHE_ENTRIES = 4096


@dataclass(frozen=True)
class Body:
    """One serialised answer and its validators."""

    data: bytes
    etag: str
    max_age: int


class BadRequest(Exception):
    """A query parameter the real service rejects with 400 ``bad_request``."""


def encode(payload: Any, max_age: int = 60) -> Body:
    """Serialise as compact UTF-8 JSON and tag the exact bytes."""
    data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Body(data, f'"{hashlib.sha256(data).hexdigest()[:32]}"', max_age)


def tag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison over a comma-separated ``If-None-Match`` list."""
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*":
            return True
        if candidate.removeprefix("W/") == etag:
            return True
    return False


def answer(request: web.Request, body: Body) -> web.Response:
    """200 with the cached bytes, or 304 when the client already holds them."""
    headers = {"ETag": body.etag, "Cache-Control": f"public, max-age={body.max_age}"}
    if tag_matches(request.headers.get("If-None-Match"), body.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=body.data, headers=headers, content_type="application/json", charset="utf-8"
    )


def error(status: int, code: str, message: str) -> web.Response:
    """The service's error shape: ``{"error": {"code", "message"}}``."""
    payload = {"error": {"code": code, "message": message}}
    return web.Response(
        text=json.dumps(payload, ensure_ascii=False),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn rejected parameters and unknown paths into the service's error shape."""
    try:
        return await handler(request)
    except BadRequest as exc:
        return error(400, "bad_request", str(exc))
    except web.HTTPNotFound:
        return error(404, "not_found", f"no route for {request.path}")


def int_param(request: web.Request, name: str, default: int, highest: int | None) -> int:
    """A positive integer query parameter, at most ``highest``."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if value < 1 or (highest is not None and value > highest):
        limit = f"between 1 and {highest}" if highest is not None else "at least 1"
        raise BadRequest(f"{name} must be {limit}")
    return value


def time_param(request: web.Request, name: str, *, end: bool) -> datetime | None:
    """``YYYY-MM-DD`` (the whole day) or an ISO datetime; naive times are Beijing time."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day, time.max if end else time.min, content.SHANGHAI)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO 8601 date or datetime") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=content.SHANGHAI)


class GarbageService:
    """The service's data, serialised answers and request handlers."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.items = content.load_dictionary()
        self.categories = encode(content.load_categories(), max_age=300)
        self.item_bodies: dict[str, Body] = {}
        for item in self.items:
            body = encode(item)
            for key in (item["name"], *item["aliases"]):
                self.item_bodies[key] = body
        self.articles = content.generate_articles(seed)
        self.article_bodies = {article["id"]: encode(article) for article in self.articles}
        points = content.generate_collection_points(seed)
        self.points_all = encode(points)
        self.points_by_community = {
            community: encode([p for p in points if p["community_id"] == community])
            for community in {p["community_id"] for p in points}
        }
        self.no_points = encode([])
        self._memo: dict[Hashable, Body] = {}
        self._events: tuple[date, list[content.Record]] | None = None

    def memo(self, key: Hashable, build: Callable[[], Any]) -> Body:
        """Serialise a query-dependent answer once; the memo is bounded by clearing it."""
        body = self._memo.get(key)
        if body is None:
            if len(self._memo) >= CACHE_ENTRIES:
                self._memo.clear()
            body = self._memo[key] = encode(build())
        return body

    def search(self, query: str, limit: int) -> list[content.Record]:
        """Exact name/alias matches, then name prefixes, then alias prefixes; ties by name."""
        if not query:
            return self.items[:limit]
        ranked: list[tuple[int, str, content.Record]] = []
        for item in self.items:
            name, aliases = item["name"], item["aliases"]
            if query == name or query in aliases:
                ranked.append((0, name, item))
            elif name.startswith(query):
                ranked.append((1, name, item))
            elif any(alias.startswith(query) for alias in aliases):
                ranked.append((2, name, item))
        ranked.sort(key=lambda entry: entry[:2])
        return [item for _, _, item in ranked[:limit]]

    def events(self, today: date) -> list[content.Record]:
        """The events around ``today``, regenerated when the day changes."""
        if self._events is None or self._events[0] != today:
            self._events = (today, content.generate_events(self.seed, today))
        return self._events[1]

    async def get_categories(self, request: web.Request) -> web.Response:
        return answer(request, self.categories)

    async def get_items(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()
        limit = int_param(request, "limit", 10, MAX_LIMIT)
        body = self.memo(("items", query, limit), lambda: self.search(query, limit))
        return answer(request, body)

    async def get_item(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        body = self.item_bodies.get(name)
        if body is None:
            return error(404, "not_found", f"no dictionary item named {name!r}")
        return answer(request, body)

    async def get_articles(self, request: web.Request) -> web.Response:
        page = int_param(request, "page", 1, None)
        size = int_param(request, "size", 10, MAX_LIMIT)
        tag = request.query.get("tag", "").strip() or None

        def build() -> dict[str, Any]:
            chosen = [a for a in self.articles if tag is None or tag in a["tags"]]
            window = chosen[(page - 1) * size : page * size]
            return {
                "total": len(chosen),
                "items": [{k: v for k, v in a.items() if k != "body_html"} for a in window],
            }

        return answer(request, self.memo(("articles", page, size, tag), build))

    async def get_article(self, request: web.Request) -> web.Response:
        article_id = request.match_info["id"]
        body = self.article_bodies.get(article_id)
        if body is None:
            return error(404, "not_found", f"no article {article_id!r}")
        return answer(request, body)

    async def get_collection_points(self, request: web.Request) -> web.Response:
        community = request.query.get("community_id", "").strip()
        if not community:
            return answer(request, self.points_all)
        return answer(request, self.points_by_community.get(community, self.no_points))

    async def get_events(self, request: web.Request) -> web.Response:
        start = time_param(request, "from", end=False)
        end = time_param(request, "to", end=True)
        today = content.today_in_shanghai()

        def build() -> list[content.Record]:
            return [
                event
                for event in self.events(today)
                if (start is None or start <= datetime.fromisoformat(event["starts_at"]))
                and (end is None or datetime.fromisoformat(event["starts_at"]) <= end)
            ]

        return answer(request, self.memo(("events", today, start, end), build))


def add_routes(app: web.Application, service: GarbageService) -> None:
    """Register the service's public API."""
    app.middlewares.append(error_middleware)
    app.router.add_get("/api/categories", service.get_categories)
    app.router.add_get("/api/items", service.get_items)
    app.router.add_get("/api/items/{name}", service.get_item)
    app.router.add_get("/api/articles", service.get_articles)
    app.router.add_get("/api/articles/{id}", service.get_article)
    app.router.add_get("/api/collection-points", service.get_collection_points)
    app.router.add_get("/api/events", service.get_events)
