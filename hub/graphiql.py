"""Self-hosted GraphiQL: strawberry's page with its pinned CDN assets served by the hub.

The page itself is the hub's explorer (``hub.explorer``). While the assets are missing,
``/graphql`` shows a browser how to fetch them; a fetch is bounded by a timeout.

The assets come from ``npm pack`` of the exact versions the page pins (so the machine's
configured registry is used) and are kept only if they match the page's integrity hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from html import escape
from html.parser import HTMLParser
from itertools import accumulate
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import anyio
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from strawberry.http.ides import get_graphql_ide_html

from hub.explorer import Example, explorer_page, unavailable_page

DEFAULT_DIRECTORY = Path("var/graphiql")
ASSET_PREFIX = "/graphiql/assets/"
TITLE = "i罗湖 Hub GraphiQL"
MAX_ASSET_BYTES = 16 * 1024 * 1024
_HASHES = frozenset({"sha256", "sha384", "sha512"})
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_MEDIA_TYPES = {".js": "application/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_CACHE_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable"}
DEFAULT_TIMEOUT_S = 60.0
"""The whole fetch, every package: a registry that does not answer must not hold anyone up."""
# npm's defaults retry an unreachable registry for over a minute per package
_NPM_FLAGS = (
    "--ignore-scripts",
    "--fetch-retries=1",
    "--fetch-retry-mintimeout=1000",
    "--fetch-retry-maxtimeout=5000",
)
_POLL_S = 0.1


class GraphiQLAssetsError(RuntimeError):
    """An asset could not be obtained or did not match the page's integrity hash."""


@dataclass(frozen=True)
class Asset:
    url: str
    package: str
    version: str
    path: str
    integrity: str
    local_name: str

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"


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


def _verified(data: bytes, integrity: str) -> bool:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    return hmac.compare_digest(actual, expected)


def _wait(process: subprocess.Popen[str], spec: str, timeout: float, stop: threading.Event) -> None:
    # polled, not one long wait: a hub shutting down stops a fetch at once
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if stop.is_set():
            raise GraphiQLAssetsError(f"npm pack {spec} stopped")
        if time.monotonic() >= deadline:
            raise GraphiQLAssetsError(
                f"npm pack {spec} timed out after {timeout:.0f} s (is the registry reachable?)"
            )
        stop.wait(_POLL_S)


def _npm_pack(
    npm: str, spec: str, destination: Path, timeout: float, stop: threading.Event
) -> Path:
    command = [npm, "pack", spec, "--pack-destination", str(destination), *_NPM_FLAGS]
    # output to a file, not a pipe: npm lists every packed file, more than a pipe holds
    with tempfile.TemporaryFile(mode="w+", dir=destination) as output:
        try:  # fixed argv, spec validated by _parse_asset, no shell
            process = subprocess.Popen(  # noqa: S603
                command, cwd=destination, stdout=output, stderr=subprocess.STDOUT, text=True
            )
        except OSError as exc:
            raise GraphiQLAssetsError(f"npm pack {spec} failed: {exc}") from exc
        try:
            _wait(process, spec, timeout, stop)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output.seek(0)
        detail = output.read()[-500:].strip()
    if process.returncode != 0:
        raise GraphiQLAssetsError(f"npm pack {spec} exited {process.returncode}: {detail}")
    tarballs = sorted(destination.glob("*.tgz"))
    if len(tarballs) != 1:
        raise GraphiQLAssetsError(f"npm pack {spec} produced {len(tarballs)} tarballs")
    return tarballs[0]


def _read_member(tarball: Path, asset: Asset) -> bytes:
    wanted = f"package/{asset.path}"
    found: list[tarfile.TarInfo] = []
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            for member in archive:
                name = PurePosixPath(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise GraphiQLAssetsError(f"{asset.spec}: unsafe tarball member {name}")
                if member.name == wanted:
                    found.append(member)
            if len(found) != 1 or not found[0].isreg() or found[0].size > MAX_ASSET_BYTES:
                raise GraphiQLAssetsError(f"{asset.spec}: no single regular file {wanted}")
            stream = archive.extractfile(found[0])
            data = stream.read() if stream is not None else b""
    except (OSError, tarfile.TarError) as exc:
        raise GraphiQLAssetsError(f"{asset.spec}: unreadable tarball: {exc}") from exc
    return data


def _write_atomic(target: Path, data: bytes) -> None:
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _present(directory: Path, asset: Asset) -> bool:
    target = directory / asset.local_name
    return target.is_file() and _verified(target.read_bytes(), asset.integrity)


def ensure_assets(
    directory: Path,
    assets: Sequence[Asset],
    *,
    npm: str = "npm",
    timeout: float = DEFAULT_TIMEOUT_S,
    stop: threading.Event | None = None,
) -> None:
    """Make every asset present and verified in ``directory``; pack each package once.

    ``timeout`` bounds the whole fetch, every package included; ``stop`` ends it early.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    wanted: dict[str, list[Asset]] = {}
    for asset in assets:
        if not _present(directory, asset):
            (directory / asset.local_name).unlink(missing_ok=True)  # never keep a bad file
            wanted.setdefault(asset.spec, []).append(asset)
    for spec, group in wanted.items():
        remaining = max(deadline - time.monotonic(), 0.0)
        with tempfile.TemporaryDirectory(prefix="graphiql-npm-") as temp:
            tarball = _npm_pack(npm, spec, Path(temp), remaining, stop)
            verified = [(asset, _read_member(tarball, asset)) for asset in group]
        for asset, data in verified:  # all of a package's files verify before any is written
            if not _verified(data, asset.integrity):
                raise GraphiQLAssetsError(f"{spec}: {asset.path} does not match its integrity")
        for asset, data in verified:
            _write_atomic(directory / asset.local_name, data)


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
            self._ready = all(_present(self.directory, asset) for asset in self.assets)
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
