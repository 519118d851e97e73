"""Public links: each catalogue entry's stable page on the hub, and the QR code that leads there.

Every service item, scenario guide and 政务公开 entry has a page at
``<public base URL>/s/<kind>/<code>`` (an item by its implementation code) and a QR code of that
URL at ``/qr/<kind>/<code>.svg`` or ``.png``. The schema (``qrCode`` fields) and the hub's HTTP
surface (the pages, the images) build both here, so a printed code, its image URL and the page
it opens never disagree. Nothing here touches the network: entries are looked up in the hub's
own copy of the catalogue (``schema.context.ServiceCatalogue``).

QR codes are made by segno (ISO/IEC 18004, error correction M, raised when it fits in the same
version), with the standard's four-module quiet zone. ``size`` is the image's width in pixels at
most: modules are whole pixels, so the image is the largest multiple of the symbol's width that
fits (at least one pixel a module).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING
from urllib.parse import quote

import segno
from cachetools import LRUCache

from connectors.catalogue.models import Disclosure, Item, Scenario

if TYPE_CHECKING:
    from schema.context import ServiceCatalogue

MIN_SIZE = 64
MAX_SIZE = 2048
DEFAULT_SIZE = 256
BORDER = 4
"""Quiet zone around the symbol, in modules, as the standard asks: phone cameras need it."""
RENDER_CACHE_SIZE = 256
SYMBOL_CACHE_SIZE = 2048
"""Encoding a URL costs ~5 ms (segno is pure Python), drawing it ~0.4 ms (SVG) to ~12 ms (a large
PNG): encoded symbols are kept for more URLs than drawn images (a symbol is ~2 kB)."""


class PageKind(Enum):
    """What a public page shows: a service item, a scenario guide, a 政务公开 entry."""

    ITEM = "item"
    SCENARIO = "scenario"
    DISCLOSURE = "disclosure"


class ImageFormat(Enum):
    SVG = "svg"
    PNG = "png"


MEDIA_TYPES = {ImageFormat.SVG: "image/svg+xml", ImageFormat.PNG: "image/png"}


class SizeOutOfBounds(ValueError):
    """A requested image size outside ``MIN_SIZE`` … ``MAX_SIZE`` pixels."""

    def __init__(self) -> None:
        super().__init__(f"size must be a whole number of pixels from {MIN_SIZE} to {MAX_SIZE}.")


def check_size(size: int) -> int:
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise SizeOutOfBounds
    return size


@dataclass(frozen=True)
class QrImage:
    """One rendered QR code: ``url`` is what it encodes, ``size`` its actual width in pixels."""

    url: str
    format: ImageFormat
    size: int
    data: bytes

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    @property
    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


@dataclass(frozen=True)
class PublicLinks:
    """URLs under the hub's public base URL (``https://hub.example.cn``, no trailing slash)."""

    base_url: str
    _symbols: LRUCache[str, tuple[segno.QRCode, int]] = field(
        default_factory=lambda: LRUCache(SYMBOL_CACHE_SIZE), compare=False, repr=False
    )
    _rendered: LRUCache[tuple[str, ImageFormat, int], QrImage] = field(
        default_factory=lambda: LRUCache(RENDER_CACHE_SIZE), compare=False, repr=False
    )

    def page_path(self, kind: PageKind, code: str) -> str:
        return f"/s/{kind.value}/{quote(code, safe='')}"

    def page_url(self, kind: PageKind, code: str) -> str:
        return self.base_url + self.page_path(kind, code)

    def image_path(self, kind: PageKind, code: str, fmt: ImageFormat) -> str:
        return f"/qr/{kind.value}/{quote(code, safe='')}.{fmt.value}"

    def image_url(self, kind: PageKind, code: str, fmt: ImageFormat, size: int) -> str:
        return f"{self.base_url}{self.image_path(kind, code, fmt)}?size={size}"

    def qr(self, kind: PageKind, code: str, fmt: ImageFormat, size: int) -> QrImage:
        """The QR code of the page of ``kind`` ``code``; ``size`` must pass ``check_size``."""
        url = self.page_url(kind, code)
        key = (url, fmt, check_size(size))
        image = self._rendered.get(key)
        if image is None:
            image = self._rendered[key] = _render(*self._symbol(url), url, fmt, size)
        return image

    def _symbol(self, url: str) -> tuple[segno.QRCode, int]:
        """The QR symbol of ``url`` and its width in modules, quiet zone included."""
        found = self._symbols.get(url)
        if found is None:
            symbol = segno.make_qr(url, error="m", boost_error=True)
            width = int(symbol.symbol_size(scale=1, border=BORDER)[0])
            found = self._symbols[url] = (symbol, width)
        return found


def _render(symbol: segno.QRCode, modules: int, text: str, fmt: ImageFormat, size: int) -> QrImage:
    scale = max(1, size // modules)
    out = io.BytesIO()
    if fmt is ImageFormat.SVG:
        symbol.save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False, title=text)
    else:
        symbol.save(out, kind="png", scale=scale, border=BORDER)
    return QrImage(text, fmt, modules * scale, out.getvalue())


def secret_qr(text: str, fmt: ImageFormat, size: int) -> QrImage:
    """A QR code of ``text`` that is a secret (a consent code): drawn each time, never cached,
    with no title (an SVG's title would repeat the secret in the markup)."""
    symbol = segno.make_qr(text, error="m", boost_error=True)
    modules = int(symbol.symbol_size(scale=1, border=BORDER)[0])
    scale = max(1, check_size(size) // modules)
    out = io.BytesIO()
    if fmt is ImageFormat.SVG:
        symbol.save(out, kind="svg", scale=scale, border=BORDER, xmldecl=False)
    else:
        symbol.save(out, kind="png", scale=scale, border=BORDER)
    return QrImage(text, fmt, modules * scale, out.getvalue())


@dataclass(frozen=True)
class Entry:
    """A catalogue entry found for a public page; ``code`` is its canonical one."""

    kind: PageKind
    code: str
    record: Item | Scenario | Disclosure


async def find_entry(catalogue: ServiceCatalogue, kind: PageKind, code: str) -> Entry | None:
    """The entry of ``kind`` ``code`` in the hub's copy; an item also by its local code
    (``GJJ-0003``), answered with its implementation code, the one its public URL carries."""
    if kind is PageKind.ITEM:
        item = await catalogue.item(code)
        return None if item is None else Entry(kind, item.impl_code, item)
    if kind is PageKind.SCENARIO:
        scenario = await catalogue.scenario(code)
        return None if scenario is None else Entry(kind, scenario.id, scenario)
    for disclosure in await catalogue.disclosures():
        if disclosure.id == code:
            return Entry(kind, disclosure.id, disclosure)
    return None
