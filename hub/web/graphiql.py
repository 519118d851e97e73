"""Self-hosted GraphiQL: strawberry's page with its pinned CDN assets served by the hub.

The page itself is the hub's explorer (``hub.web.explorer``); its asset files are fetched and
verified by ``hub.web.graphiql_assets``. While they are missing, ``/graphql`` shows a browser
how to fetch them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import cached_property
from html import escape
from html.parser import HTMLParser
from itertools import accumulate
from pathlib import Path
from urllib.parse import urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from hub.web.explorer import Example, explorer_page, unavailable_page
from hub.web.graphiql_assets import (
    DEFAULT_TIMEOUT_S,
    Asset,
    GraphiQLAssetsError,
    ensure_assets,
    present,
)

DEFAULT_DIRECTORY = Path("var/graphiql")
ASSET_PREFIX = "/graphiql/assets/"
TITLE = "i罗湖 Hub GraphiQL"
_HASHES = frozenset({"sha256", "sha384", "sha512"})
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MEDIA_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CACHE_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable"}


def _safe(text: str, extra: str = "") -> bool:
    return bool(text) and not text.startswith(("-", ".")) and set(text) <= _SAFE | set(extra)


def _parse_asset(url: str, integrity: str) -> Asset:
    parts = urlsplit(url).path.lstrip("/").split("/")
    n = 2 if parts[0].startswith("@") else 1
    name_at_version, rest = "/".join(parts[:n]), parts[n:]
    package, sep, version = name_at_version.rpartition("@")
    scope, _, bare = package.rpartition("/")
    names_ok = _safe(bare) and (not scope or _safe(scope[1:])) and _safe(version, "+")
    if not (sep and rest and names_ok and all(_safe(part) for part in rest)):
        raise GraphiQLAssetsError(f"unrecognised asset URL {url!r}")
    algorithm, _, digest = integrity.partition("-")
    if algorithm not in _HASHES or not digest or " " in digest:
        raise GraphiQLAssetsError(f"unsupported integrity {integrity!r} for {url!r}")
    path = "/".join(rest)
    local = "-".join([package.lstrip("@").replace("/", "-"), version, *rest])
    return Asset(url, package, version, path, integrity, local)


class _PageParser(HTMLParser):
    """Records asset tags (with their source offsets) and the title's span."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self._line_starts = [0, *accumulate(len(line) + 1 for line in html.split("\n"))]
        self.tags: list[tuple[int, str, str, str]] = []  # (offset, raw tag, url, integrity)
        self.title: tuple[int, int] | None = None
        self._title_start: int | None = None
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        raw = self.get_starttag_text() or ""
        values = dict(attrs)
        url = values.get("src" if tag == "script" else "href" if tag == "link" else "")
        integrity = values.get("integrity")
        if url and integrity:
            self.tags.append((self._offset(), raw, url, integrity))
        if tag == "title" and self.title is None:
            self._title_start = self._offset() + len(raw)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title_start is not None and self.title is None:
            self.title = (self._title_start, self._offset())


def page_assets(html: str) -> list[Asset]:
    """The ``<script src integrity>`` / ``<link href integrity>`` assets of the page."""
    return [_parse_asset(url, integrity) for _, _, url, integrity in _PageParser(html).tags]


def local_page(html: str, assets: Sequence[Asset], prefix: str = ASSET_PREFIX) -> str:
    """The page with each asset URL pointed at ``prefix + local_name``; integrity kept."""
    by_url = {asset.url: asset for asset in assets}
    parser = _PageParser(html)
    edits: list[tuple[int, int, str]] = []
    for offset, raw, url, _ in parser.tags:
        asset = by_url.pop(url, None)
        if asset is not None:
            if url not in raw:
                raise GraphiQLAssetsError(f"cannot rewrite the tag for {url!r}")
            edits.append((offset, offset + len(raw), raw.replace(url, prefix + asset.local_name)))
    if by_url:
        raise GraphiQLAssetsError(f"page does not reference {sorted(by_url)}")
    if parser.title is not None:
        edits.append((*parser.title, escape(TITLE)))
    for start, end, text in sorted(edits, reverse=True):
        html = html[:start] + text + html[end:]
    return html


class GraphiQL:
    """Strawberry's GraphiQL page, made the hub's explorer, served entirely by the hub."""

    def __init__(
        self,
        directory: Path | str = DEFAULT_DIRECTORY,
        *,
        npm: str = "npm",
        timeout: float = DEFAULT_TIMEOUT_S,
        source_html: str | None = None,
        prefix: str = ASSET_PREFIX,
        examples: Sequence[Example] = (),
        dev_token_url: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.npm = npm
        self.timeout = timeout
        self.prefix = prefix
        self.source_html = source_html or get_graphql_ide_html("graphiql")
        self.examples = list(examples)
        self.dev_token_url = dev_token_url
        self.problem: str | None = None
        """Why the last fetch failed (shown on the page while the assets are missing)."""
        self._stop = threading.Event()
        self._ready = False

    @cached_property
    def assets(self) -> list[Asset]:
        return page_assets(self.source_html)

    @cached_property
    def _by_name(self) -> dict[str, Asset]:
        return {asset.local_name: asset for asset in self.assets}

    @cached_property
    def html(self) -> str:
        page = explorer_page(self.source_html, self.examples, dev_token_url=self.dev_token_url)
        return local_page(page, self.assets, self.prefix)

    @property
    def ready(self) -> bool:
        """All asset files present and matching their hashes (re-checked until they are)."""
        if not self._ready:
            self._ready = all(present(self.directory, asset) for asset in self.assets)
        return self._ready

    def page(self) -> tuple[str, int]:
        """The explorer once the assets are here; until then a page saying how to get them."""
        if self.ready:
            return self.html, 200
        return unavailable_page(self.directory, self.problem), 503

    def fetch(self) -> None:
        """Fetch the missing assets (bounded by ``timeout``); ``stop()`` ends it early."""
        try:
            ensure_assets(
                self.directory, self.assets, npm=self.npm, timeout=self.timeout, stop=self._stop
            )
        except GraphiQLAssetsError as exc:
            self.problem = str(exc)
            raise
        self.problem = None

    def stop(self) -> None:
        self._stop.set()

    async def serve_asset(self, request: Request) -> Response:
        asset = self._by_name.get(str(request.path_params.get("name", "")))
        if asset is None:
            return PlainTextResponse("Not Found", status_code=404)
        path = self.directory / asset.local_name
        if not await anyio.Path(path).is_file():
            return PlainTextResponse("GraphiQL assets not fetched", status_code=404)
        media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
        return FileResponse(path, media_type=media_type, headers=_CACHE_HEADERS)
