"""QR codes in the schema: ``QrCode``, and ``qrCode(kind, code, format, size)`` at the root.

The catalogue's own types add a field that calls ``qr_code_for`` with their canonical code::

    @strawberry.field(description=QR_CODE_DESCRIPTION)
    def qr_code(
        self, info: HubInfo, format: QrFormat = QrFormat.SVG, size: int = DEFAULT_SIZE
    ) -> QrCode:
        return qr_code_for(info, QrKind.ITEM, self.impl_code, format, size)

The image is rendered only when ``svg`` or ``dataUri`` is selected (and then once per URL,
format and size in the process: ``schema.links.PublicLinks``).
"""

from __future__ import annotations

import strawberry

from schema.context import HubInfo
from schema.errors import BadUserInput
from schema.links import (
    DEFAULT_SIZE,
    MAX_SIZE,
    MIN_SIZE,
    ImageFormat,
    PageKind,
    PublicLinks,
    QrImage,
    SizeOutOfBounds,
    check_size,
    find_entry,
)

strawberry.enum(
    PageKind,
    name="QrKind",
    description="What a QR code's page shows: a service item, a scenario guide, a 政务公开 entry.",
)
strawberry.enum(ImageFormat, name="QrFormat", description="A QR code's image format.")
QrKind = PageKind
QrFormat = ImageFormat

QR_CODE_DESCRIPTION = (
    "二维码 · A QR code of this entry's public page on the hub, which a phone camera opens. "
    f"`size`: the image's width in pixels at most, {MIN_SIZE}–{MAX_SIZE} (default {DEFAULT_SIZE})."
)


@strawberry.type(description="二维码 · A QR code of a public page on the hub.")
class QrCode:
    url: str = strawberry.field(description="The page the code leads to (what it encodes).")
    image_url: str = strawberry.field(
        description="The image on the hub (`/qr/<kind>/<code>.svg|png?size=`), cacheable."
    )
    format: QrFormat
    kind: strawberry.Private[PageKind]
    code: strawberry.Private[str]
    requested_size: strawberry.Private[int]
    links: strawberry.Private[PublicLinks]

    def _image(self) -> QrImage:
        return self.links.qr(self.kind, self.code, self.format, self.requested_size)

    @strawberry.field(
        description="The image's width and height in pixels: whole pixels a module, "
        "so at most the `size` asked for."
    )
    def size(self) -> int:
        return self._image().size

    @strawberry.field(description="The SVG markup, to inline in a page; null for PNG.")
    def svg(self) -> str | None:
        return self._image().data.decode("utf-8") if self.format is ImageFormat.SVG else None

    @strawberry.field(description="The image as a `data:` URI (`image/svg+xml` or `image/png`).")
    def data_uri(self) -> str:
        return self._image().data_uri


def qr_code_for(
    info: HubInfo,
    kind: PageKind,
    code: str,
    format: ImageFormat = ImageFormat.SVG,
    size: int = DEFAULT_SIZE,
) -> QrCode:
    """The QR code of the page of ``kind`` ``code`` (a canonical code: an item's ``impl_code``).

    A ``size`` out of bounds is ``BAD_USER_INPUT`` naming ``size``."""
    try:
        check_size(size)
    except SizeOutOfBounds as exc:
        raise BadUserInput(str(exc), field="size") from exc
    links = info.context.public_links
    return QrCode(
        url=links.page_url(kind, code),
        image_url=links.image_url(kind, code, format, size),
        format=format,
        kind=kind,
        code=code,
        requested_size=size,
        links=links,
    )


@strawberry.type
class QrQuery:
    @strawberry.field(
        description="二维码 · The QR code of a service item (by implementation or local code), "
        "scenario guide or 政务公开 entry: its public page on the hub, as SVG or PNG. "
        f"Null when the catalogue has no such entry. `size`: pixels at most, {MIN_SIZE}–"
        f"{MAX_SIZE}. Public: no token needed."
    )
    async def qr_code(
        self,
        info: HubInfo,
        kind: QrKind,
        code: strawberry.ID,
        format: QrFormat = ImageFormat.SVG,
        size: int = DEFAULT_SIZE,
    ) -> QrCode | None:
        try:
            check_size(size)
        except SizeOutOfBounds as exc:
            raise BadUserInput(str(exc), field="size") from exc
        entry = await find_entry(info.context.catalogue, kind, str(code))
        if entry is None:
            return None
        return qr_code_for(info, entry.kind, entry.code, format, size)


__all__ = ["QR_CODE_DESCRIPTION", "QrCode", "QrFormat", "QrKind", "QrQuery", "qr_code_for"]
