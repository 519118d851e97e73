"""What the hub's public pages (``/s/…``) and QR images (``/qr/…``) share.

Both are anonymous and public: the same per-IP rate limit as anonymous GraphQL callers (a
QR image costs CPU to draw), security headers that let a browser run no script at all, and
HTTP validators (``ETag`` / ``If-None-Match`` → 304) as for public GraphQL answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from hub.context import Services
from hub.security.ratelimit import bucket_key
from hub.web.caching import etag_of, matches
from hub.web.responses import error_response
from schema.context import CallerKind, Principal

PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
IMAGE_CSP = "default-src 'none'"
"""An SVG opened on its own is a document: it may load and run nothing."""


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
    }


async def refused(services: Services, request: Request) -> Response | None:
    """A 429 when the client's IP has used up the anonymous callers' bucket, else ``None``."""
    client = request.client
    decision = await services.rate_limiter.take(
        bucket_key(Principal.anonymous(), client.host if client else None),
        services.rate_policies[CallerKind.ANONYMOUS],
    )
    if decision.allowed:
        return None
    services.on_rate_limited(CallerKind.ANONYMOUS.value)
    response = error_response("Too many requests: slow down.", "RATE_LIMITED", 429, request.scope)
    response.headers.update(decision.headers())
    response.headers["Retry-After"] = str(decision.retry_after_s)
    return response


def cacheable(
    request: Request,
    body: bytes,
    media_type: str,
    *,
    max_age_s: int,
    headers: Mapping[str, str],
) -> Response:
    """A public ``200`` with a strong ``ETag``, or a bodiless ``304`` when the client's copy
    is current."""
    etag = etag_of(body)
    sent = {**headers, "Cache-Control": f"public, max-age={max_age_s}", "ETag": etag}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and matches(if_none_match, etag):
        return Response(status_code=304, headers=sent)
    return Response(body, media_type=media_type, headers=sent)
