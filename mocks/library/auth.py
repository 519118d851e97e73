"""The token call, and the check every other call goes through."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mocks.common.admin import ADMIN_PREFIX
from mocks.library import envelope
from mocks.library.keys import TOKENS_KEY
from mocks.library.tokens import APPID, SECRET, TOKEN_TTL_SECONDS

TOKEN_PATH = "/openlib/service/barcode/token"  # noqa: S105 - a route, not a secret

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def issue_token(request: web.Request) -> web.Response:
    """``GET /openlib/service/barcode/token?appid=&secret=``."""
    query = request.query
    if query.get("appid") != APPID or query.get("secret") != SECRET:
        return envelope.fail(envelope.BAD_CREDENTIALS, "appid or secret invalid")
    token = request.app[TOKENS_KEY].issue()
    return envelope.ok({"token": token, "expires_in": TOKEN_TTL_SECONDS})


async def request_token(request: web.Request) -> str:
    """The ``token`` parameter: from the query string, or from the form of a POST."""
    token = request.query.get("token")
    if token is None and request.method == "POST":
        value = (await request.post()).get("token")
        token = value if isinstance(value, str) else None
    return token or ""


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse, inside the envelope, a call without a live token (the admin surface is exempt)."""
    exempt = request.path == TOKEN_PATH or request.path.startswith(ADMIN_PREFIX)
    if exempt or request.match_info.http_exception is not None:
        return await handler(request)
    if not request.app[TOKENS_KEY].valid(await request_token(request)):
        return envelope.fail(envelope.TOKEN_INVALID, "token invalid")
    return await handler(request)
