"""GraphQL over HTTP, to the letter: media types, request errors, CSRF preflight.

- ``application/graphql-response+json`` when the client accepts it, else ``application/json``
  (legacy clients); with the former, request errors (the document does not parse or
  validate, variables do not coerce) answer 400 — with either, without a ``data`` entry.
- ``POST`` bodies must be JSON (415 otherwise): a browser form cannot post JSON cross-site.
- ``GET`` must carry a header no simple cross-site request can (``GraphQL-Require-Preflight``,
  ``Apollo-Require-Preflight`` or ``X-Apollo-Operation-Name``), unless it only names a
  persisted document: then there is nothing a forged request could choose to run.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from hub.web.middleware import request_id_of

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PREFLIGHT_HEADERS = (
    "graphql-require-preflight",
    "apollo-require-preflight",
    "x-apollo-operation-name",
)


def response_media_type(accept: str | None) -> str:
    """The first of our two media types the client accepts, by q-value then order."""
    if not accept:
        return JSON
    best, best_q = JSON, -1.0
    for position, part in enumerate(accept.split(",")):
        media, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        candidate = {
            GRAPHQL_RESPONSE: GRAPHQL_RESPONSE,
            JSON: JSON,
            "*/*": JSON,
            "application/*": JSON,
        }.get(media)
        score = q - position * 1e-6  # equal q: the earlier one wins
        if candidate and q > 0 and score > best_q:
            best, best_q = candidate, score
    return best


def unsupported_body(request: Request) -> bool:
    """A POST whose body is not JSON."""
    if request.method != "POST":
        return False
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media not in (JSON, GRAPHQL_RESPONSE) and not media.endswith("+json")


def needs_preflight(request: Request) -> bool:
    """A GET that could run an arbitrary document without proving it is not cross-site."""
    if request.method != "GET" or any(h in request.headers for h in PREFLIGHT_HEADERS):
        return False
    return "query" in request.query_params


def error_response(
    message: str,
    code: str,
    status: int,
    scope: Scope,
    media: str = JSON,
    *,
    allow: str = "POST",
) -> Response:
    """One error in the vocabulary, as a complete GraphQL-over-HTTP answer (no ``data``)."""
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    headers = {"Allow": allow} if status == 405 else None
    response = Response(json_bytes(body), status_code=status, headers=headers, media_type=media)
    response.headers["X-Request-Id"] = request_id_of(scope)
    return response


def json_bytes(data: Any) -> bytes:
    """Any answer as JSON; a lone UTF-16 surrogate (echoed from a request) becomes ``?``."""
    try:
        # orjson: UTF-8 as is, no spaces; several times cheaper than json.dumps on big answers
        return orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return orjson.dumps(_scrub(data), option=orjson.OPT_NON_STR_KEYS)


def _scrub(data: Any) -> Any:
    if isinstance(data, str):
        return data.encode("utf-8", "replace").decode("utf-8")
    if isinstance(data, dict):
        return {_scrub(key): _scrub(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_scrub(item) for item in data]
    return data
