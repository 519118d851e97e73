"""HTTP handlers of the province's item catalogue (政务服务事项管理系统), read-only REST.

Every call needs ``X-Api-Key`` (else ``401``). Errors are ``{"error": {"code", "message"}}``.
Besides the read API there is one admin route of this mock: ``POST /__admin/items/{impl_code}``
with a JSON object of fields to change; the item's ``updated_at`` becomes now (Beijing time),
so ``GET /api/changes?since=`` has something to report; ``{"status": "withdrawn"}`` withdraws
the item (it stays in pages and in the feed, with that status). ``since`` is inclusive (times have
whole seconds): a client that resumes from the answer's ``until`` may see an item twice, never
misses one.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from mocks.catalogue import guides
from mocks.catalogue.items import STATUSES, TIME_FORMAT, Record, build_items
from mocks.common.admin import Handler, record_batch

API_KEY = "dev-catalogue-key"
MAX_PAGE_SIZE = 100
MAX_BATCH = 50
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class BadRequest(Exception):
    """A parameter the real system rejects with ``400 bad_request``."""


def _json(payload: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def error(status: int, code: str, message: str) -> web.Response:
    return _json({"error": {"code": code, "message": message}}, status)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The key check (not on the mock's admin routes) and the error shape."""
    if request.path.startswith("/api/") and request.headers.get("X-Api-Key") != API_KEY:
        return error(401, "unauthorized", "missing or unknown X-Api-Key")
    try:
        return await handler(request)
    except BadRequest as exc:
        return error(400, "bad_request", str(exc))
    except web.HTTPNotFound:
        return error(404, "not_found", f"no route for {request.path}")


def _int(request: web.Request, name: str, default: int, highest: int | None = None) -> int:
    raw = request.query.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1 or (highest is not None and int(raw) > highest):
        bound = f" and at most {highest}" if highest is not None else ""
        raise BadRequest(f"{name} must be a whole number of at least 1{bound}")
    return int(raw)


def now_stamp() -> str:
    return datetime.now(SHANGHAI).strftime(TIME_FORMAT)


class CatalogueService:
    """The catalogue's data and handlers; items can be changed through the admin route."""

    def __init__(self, seed: int) -> None:
        self.items: list[Record] = build_items(seed)
        self.by_code: dict[str, Record] = {item["impl_code"]: item for item in self.items}
        self.scenarios = guides.build_scenarios(self.items)
        self.scenario_by_id = {s["id"]: s for s in self.scenarios}
        self.public_services = guides.build_public_services()
        self.disclosures = guides.build_disclosures()
        self.categories = {code for code, _ in guides.DISCLOSURE_CATEGORIES}

    async def get_items(self, request: web.Request) -> web.Response:
        page = _int(request, "page", 1)
        size = _int(request, "size", 20, MAX_PAGE_SIZE)
        window = self.items[(page - 1) * size : page * size]
        return _json({"total": len(self.items), "page": page, "size": size, "items": window})

    async def get_item(self, request: web.Request) -> web.Response:
        code = request.match_info["impl_code"]
        item = self.by_code.get(code)
        if item is None:
            return error(404, "not_found", f"no item {code!r}")
        return _json(item)

    async def get_batch(self, request: web.Request) -> web.Response:
        codes = [c for c in request.query.get("codes", "").split(",") if c.strip()]
        if not codes:
            raise BadRequest("codes is required")
        if len(codes) > MAX_BATCH:
            raise BadRequest(f"at most {MAX_BATCH} codes per call")
        record_batch(request, len(codes))
        found = [self.by_code[c.strip()] for c in dict.fromkeys(codes) if c.strip() in self.by_code]
        return _json({"items": found})

    async def get_changes(self, request: web.Request) -> web.Response:
        since = request.query.get("since", "").strip()
        try:
            datetime.strptime(since, TIME_FORMAT)
        except ValueError:
            raise BadRequest("since must be yyyyMMddHHmmss") from None
        until = now_stamp()
        changed = sorted(
            (item for item in self.items if item["updated_at"] >= since),
            key=lambda item: (item["updated_at"], item["impl_code"]),
        )
        return _json({"since": since, "until": until, "items": changed})

    async def get_scenarios(self, request: web.Request) -> web.Response:
        return _json(
            [
                {"id": s["id"], "name": s["name"], "item_count": len(s["items"])}
                for s in self.scenarios
            ]
        )

    async def get_scenario(self, request: web.Request) -> web.Response:
        scenario = self.scenario_by_id.get(request.match_info["id"])
        if scenario is None:
            return error(404, "not_found", "no such scenario")
        return _json(scenario)

    async def get_public_services(self, request: web.Request) -> web.Response:
        return _json(self.public_services)

    async def get_disclosures(self, request: web.Request) -> web.Response:
        category = request.query.get("category", "").strip()
        if category and category not in self.categories:
            raise BadRequest(f"unknown category {category!r}")
        return _json([d for d in self.disclosures if not category or d["category"] == category])

    async def change_item(self, request: web.Request) -> web.Response:
        item = self.by_code.get(request.match_info["impl_code"])
        if item is None:
            return error(404, "not_found", "no such item")
        changes = await request.json()
        if not isinstance(changes, dict):
            return error(400, "bad_request", "body must be a JSON object of fields")
        refused = sorted((set(changes) - set(item)) | ({"impl_code", "updated_at"} & set(changes)))
        if refused:
            return error(400, "bad_request", f"cannot change {refused}")
        if changes.get("status", "active") not in STATUSES:
            return error(400, "bad_request", f"status is one of {list(STATUSES)}")
        item.update(changes)
        item["updated_at"] = now_stamp()
        return _json(item)


def add_routes(app: web.Application, service: CatalogueService) -> None:
    app.middlewares.append(api_middleware)
    app.router.add_get("/api/items", service.get_items)
    app.router.add_get("/api/items:batch", service.get_batch)
    app.router.add_get("/api/items/{impl_code}", service.get_item)
    app.router.add_get("/api/changes", service.get_changes)
    app.router.add_get("/api/scenarios", service.get_scenarios)
    app.router.add_get("/api/scenarios/{id}", service.get_scenario)
    app.router.add_get("/api/public-services", service.get_public_services)
    app.router.add_get("/api/disclosures", service.get_disclosures)
    app.router.add_post("/__admin/items/{impl_code}", service.change_item)
