"""Public pages: what a QR code opens on a phone — one item, scenario guide or 政务公开 entry.

``GET /s/item/{code}`` (an item by implementation code; by local code it redirects there),
``/s/scenario/{id}``, ``/s/disclosure/{id}``: small server-rendered HTML from the hub's copy of
the catalogue (no department is called per view), every value escaped by Jinja2's autoescape.
A page carries a strict CSP (no script at all, styles only from ``/s/page.css``), a public
``Cache-Control`` for the catalogue's cache TTL and an ``ETag``. Unknown codes get a 404 page.
A disclosure's upstream ``url`` becomes a link only when it is an http(s) URL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from connectors.catalogue.models import Channel, Disclosure, Item, MaterialKind, Scenario
from connectors.errors import ConnectorError
from hub.context import Services
from hub.web.public import PAGE_CSP, cacheable, refused, security_headers
from schema.links import DEFAULT_SIZE, ImageFormat, PageKind, find_entry

TEMPLATES = Path(__file__).parent / "templates"
STYLESHEET = "/s/page.css"
MAX_CODE_LENGTH = 128
logger = logging.getLogger("ihub")

CHANNELS: Mapping[Channel, str] = {
    Channel.HALL: "区政务服务大厅",
    Channel.STREET: "街道便民服务中心",
    Channel.COMMUNITY: "社区党群服务中心",
    Channel.KIOSK_24H: "24 小时自助服务终端",
    Channel.BANK: "合作银行网点",
}
MATERIAL_KINDS: Mapping[MaterialKind, str] = {
    MaterialKind.ORIGINAL: "原件",
    MaterialKind.COPY: "复印件",
    MaterialKind.E_LICENSE: "电子证照",
}


class PublicPages:
    """The ``/s`` routes: one page per catalogue entry, and their stylesheet."""

    def __init__(self, services: Services, *, max_age_s: int) -> None:
        self._services = services
        self._max_age_s = max_age_s
        self._templates = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"], default=True),
            undefined=StrictUndefined,
        )
        self._stylesheet = (TEMPLATES / "page.css").read_bytes()

    def routes(self) -> list[Route]:
        return [
            Route(STYLESHEET, self.stylesheet, methods=["GET"]),
            Route("/s/{kind}/{code}", self.page, methods=["GET"]),
        ]

    async def stylesheet(self, request: Request) -> Response:
        headers = {"X-Content-Type-Options": "nosniff"}
        return cacheable(
            request, self._stylesheet, "text/css", max_age_s=self._max_age_s, headers=headers
        )

    async def page(self, request: Request) -> Response:
        if (limited := await refused(self._services, request)) is not None:
            return limited
        code: str = request.path_params["code"]
        try:
            kind = PageKind(request.path_params["kind"])
        except ValueError:
            return self._message(404, "页面不存在", "There is no such page on the hub.")
        if not code or len(code) > MAX_CODE_LENGTH:
            return self._message(404, "页面不存在", "There is no such page on the hub.")
        try:
            entry = await find_entry(self._services.catalogue, kind, code)
        except ConnectorError as exc:
            logger.warning("public page: the catalogue failed (%s)", type(exc).__name__)
            return self._message(503, "暂时无法访问", "The catalogue is unavailable right now.")
        if entry is None:
            return self._message(404, "未找到", "The catalogue has no such entry.")
        links = self._services.public_links
        if entry.code != code:  # an item by its local code: its page is by implementation code
            location = links.page_path(kind, entry.code)
            return RedirectResponse(location, status_code=301, headers=self._headers())
        values: dict[str, Any] = {
            "qr_image": links.image_path(kind, entry.code, ImageFormat.SVG)
            + f"?size={DEFAULT_SIZE}",
            "page_url": links.page_url(kind, entry.code),
        }
        record = entry.record
        if isinstance(record, Item):
            body = self._render("item.html", item=_item(record), **values)
        elif isinstance(record, Scenario):
            steps = [
                (step, links.page_path(PageKind.ITEM, step.impl_code)) for step in record.steps
            ]
            body = self._render("scenario.html", scenario=record, steps=steps, **values)
        else:
            body = self._render("disclosure.html", entry=_disclosure(record), **values)
        return cacheable(
            request,
            body,
            "text/html; charset=utf-8",
            max_age_s=self._max_age_s,
            headers=self._headers(),
        )

    def _render(self, template: str, **values: Any) -> bytes:
        values.setdefault("stylesheet", STYLESHEET)
        return self._templates.get_template(template).render(**values).encode("utf-8")

    def _headers(self) -> dict[str, str]:
        return security_headers(PAGE_CSP)

    def _message(self, status: int, title: str, message: str) -> Response:
        body = self._render("message.html", title=title, message=message)
        headers = {**self._headers(), "Cache-Control": "no-store"}
        return Response(body, status_code=status, media_type="text/html", headers=headers)


def _item(item: Item) -> dict[str, Any]:
    """What the item page shows, in words a resident reads."""
    if item.visits == 0:
        visits = "零跑动"
    elif item.visits == 1:
        visits = "最多跑一次"
    else:
        visits = f"跑动 {item.visits} 次"
    return {
        "record": item,
        "visits": visits,
        "fee": "不收费" if item.fee_fen == 0 else f"¥{item.fee_fen / 100:.2f}",
        "promise": "即办" if item.promise_days == 0 else f"{item.promise_days} 个工作日",
        "channels": [CHANNELS[channel] for channel in item.channels],
        "materials": [{"material": m, "kind": MATERIAL_KINDS[m.kind]} for m in item.materials],
    }


def _disclosure(entry: Disclosure) -> dict[str, Any]:
    return {
        "record": entry,
        "published": entry.published_at.strftime("%Y-%m-%d"),
        "link": entry.url if is_web_url(entry.url) else None,
    }


def is_web_url(url: str) -> bool:
    """Whether ``url`` may be a link on a page: an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
