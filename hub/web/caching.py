"""HTTP cache headers on ``GET /graphql``: public answers cacheable, personal ones never.

An answer is *public* only when nothing about it depends on the caller: an anonymous caller,
a hash-only persisted ``GET`` (the URL alone names the document, so a CDN key is the URL),
an operation that selects no personal root (``me``, ``partner``: the audit trail's own
decision, ``schema.audit.reads_personal_data``) and an answer without errors. It gets
``Cache-Control: public, max-age=…`` (the shortest department cache TTL: no cache may serve
it longer than the hub would) and an ``ETag``; a matching ``If-None-Match`` is answered 304.
Every other ``GET`` answer is ``private, no-store`` with ``Vary: Authorization``. ``POST``
answers carry no cache headers (they are not cacheable by default).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from starlette.responses import Response

from hub.web.envelope import document
from schema.audit import reads_personal_data
from schema.context import CallerKind, Principal

PRIVATE = "private, no-store"


@dataclass(frozen=True)
class CachePolicy:
    """How one ``GET`` answer may be cached, decided before it runs."""

    public: bool
    if_none_match: str | None


def policy_for(
    principal: Principal,
    sent_query: str | None,
    query: str | None,
    operation_name: str | None,
    if_none_match: str | None,
) -> CachePolicy:
    """``sent_query`` is what the client sent, ``query`` the document that will run."""
    public = (
        principal.kind is CallerKind.ANONYMOUS
        and principal.auth_problem is None
        and sent_query is None
        and query is not None
        and not reads_personal_data(document(query), operation_name)
    )
    return CachePolicy(public=public, if_none_match=if_none_match)


def apply(policy: CachePolicy, response: Response, has_errors: bool, max_age_s: int) -> Response:
    """The answer with its cache headers, or a bodiless 304 if the client's copy is current."""
    if not (policy.public and not has_errors and response.status_code == 200):
        response.headers["Cache-Control"] = PRIVATE
        response.headers["Vary"] = "Authorization"
        return response
    etag = etag_of(response.body)
    headers = {"Cache-Control": f"public, max-age={max_age_s}", "ETag": etag}
    if policy.if_none_match is not None and matches(policy.if_none_match, etag):
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return response


def etag_of(body: bytes | memoryview) -> str:
    """A strong entity tag of ``body``: the same bytes, the same tag."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """Whether an ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks)."""
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
