"""``POST /dev/token``: a seeded resident's token signed with the dev key, for the explorer.

Mounted only when ``HUB_ENV=dev`` and the hub accepts dev-key tokens (``ihub token`` in a
browser). The body must be JSON, so a cross-site form cannot call it and a cross-site script
cannot read the answer (no CORS).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from hub.security.auth import DevKeys, issue_token
from hub.settings import Settings
from hub.web.responses import error_response, unsupported_body

DEFAULT_RESIDENT = "R000001"
TTL_S = 3600


def dev_token_endpoint(
    keys: DevKeys, settings: Settings
) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint: ``{"resident": "R000001"}`` (optional) in, ``{"token": …}`` out."""

    async def endpoint(request: Request) -> Response:
        if unsupported_body(request):
            return error_response("The body must be JSON.", "BAD_USER_INPUT", 415, request.scope)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        resident = body.get("resident", DEFAULT_RESIDENT) if isinstance(body, dict) else None
        if not isinstance(resident, str):
            return error_response(
                'Send {"resident": "R000001"}.', "BAD_USER_INPUT", 400, request.scope
            )
        try:
            token = issue_token(
                keys,
                resident,
                issuer=settings.jwt_issuer,
                audience=settings.jwt_audience,
                ttl_s=TTL_S,
            )
        except ValueError as exc:
            return error_response(str(exc), "BAD_USER_INPUT", 400, request.scope)
        return JSONResponse({"token": token, "resident": resident, "expiresIn": TTL_S})

    return endpoint
