"""``GET /qr/{kind}/{code}.svg|png?size=``: the QR code of a catalogue entry's public page.

``kind`` is ``item`` (by implementation or local code: the code encodes the implementation
code's page), ``scenario`` or ``disclosure``; ``size`` is the width in pixels at most
(``schema.links``). The image depends only on the URL it encodes and the size, so it carries
a strong ``ETag`` and a long public ``Cache-Control``. An unknown kind, code or extension is
404 ``NOT_FOUND``, a size out of bounds 400 ``BAD_USER_INPUT``, both as the hub's JSON errors.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.errors import ConnectorError
from hub.context import Services
from hub.web.public import IMAGE_CSP, cacheable, refused, security_headers
from hub.web.responses import error_response
from schema.errors import public_error
from schema.links import (
    DEFAULT_SIZE,
    ImageFormat,
    PageKind,
    SizeOutOfBounds,
    check_size,
    find_entry,
)

IMAGE_MAX_AGE_S = 7 * 24 * 3600
MAX_CODE_LENGTH = 128
NO_SUCH_IMAGE = "No such QR code: /qr/<item|scenario|disclosure>/<code>.svg or .png."
_SIZE = re.compile(r"[0-9]{1,5}")


class QrImages:
    """The ``/qr`` route, answering from the hub's copy of the catalogue."""

    def __init__(self, services: Services) -> None:
        self._services = services

    def routes(self) -> list[Route]:
        return [Route("/qr/{kind}/{name}", self.image, methods=["GET"])]

    async def image(self, request: Request) -> Response:
        if (limited := await refused(self._services, request)) is not None:
            return limited
        scope = request.scope
        code, _, extension = request.path_params["name"].rpartition(".")
        try:
            kind = PageKind(request.path_params["kind"])
            fmt = ImageFormat(extension)
        except ValueError:
            return error_response(NO_SUCH_IMAGE, "NOT_FOUND", 404, scope)
        raw_size = request.query_params.get("size", str(DEFAULT_SIZE))
        try:
            if not _SIZE.fullmatch(raw_size):
                raise SizeOutOfBounds
            size = check_size(int(raw_size))
        except SizeOutOfBounds as exc:
            response = error_response(str(exc), "BAD_USER_INPUT", 400, scope)
            response.headers["Cache-Control"] = "no-store"
            return response
        if not code or len(code) > MAX_CODE_LENGTH:
            return error_response(NO_SUCH_IMAGE, "NOT_FOUND", 404, scope)
        try:
            entry = await find_entry(self._services.catalogue, kind, code)
        except ConnectorError as exc:
            known = public_error(exc)
            assert known is not None
            message, extensions = known
            status = 404 if extensions["code"] == "NOT_FOUND" else 503
            return error_response(message, str(extensions["code"]), status, scope)
        if entry is None:
            message = f"The catalogue has no such {kind.value}."
            return error_response(message, "NOT_FOUND", 404, scope)
        image = self._services.public_links.qr(kind, entry.code, fmt, size)
        return cacheable(
            request,
            image.data,
            image.media_type,
            max_age_s=IMAGE_MAX_AGE_S,
            headers=security_headers(IMAGE_CSP),
        )


__all__ = ["IMAGE_MAX_AGE_S", "QrImages"]
