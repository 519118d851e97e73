"""The token call, and the guard every ``/v3`` call goes through: client, token, date.

The guard checks in this order and answers the first failure: ``clientId`` (10003),
``accessToken`` (10004), ``date`` within ±5 minutes of the mock's now (80000). It also turns
every ``CloudError`` raised below a handler into the cloud's HTTP 200 refusal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mocks.common.admin import ADMIN_PREFIX
from mocks.locks import answers
from mocks.locks.answers import CloudError
from mocks.locks.keys import CLOCK_KEY, TOKENS_KEY
from mocks.locks.params import PARAMS_KEY, Params, params_of, read_params
from mocks.locks.tokens import CLIENT_ID, client_matches, credentials_match

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a route, not a secret
API_PREFIX = "/v3/"
MAX_SKEW_MS = 5 * 60 * 1000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def issue_token(request: web.Request) -> web.Response:
    """``POST /oauth2/token``: a pair for the password grant or for ``grant_type=refresh_token``."""
    values = params_of(request).values
    client_id, client_secret = values.get("clientId", ""), values.get("clientSecret", "")
    tokens = request.app[TOKENS_KEY]
    if values.get("grant_type") == "refresh_token":
        if not client_matches(client_id, client_secret):
            raise CloudError(answers.BAD_CREDENTIALS, "clientId or clientSecret invalid")
        pair = tokens.renew(values.get("refresh_token", ""))
        if pair is None:
            raise CloudError(answers.TOKEN_INVALID, "refresh_token invalid, expired or used")
        return answers.ok(pair.as_json())
    username, password = values.get("username", ""), values.get("password", "")
    if not credentials_match(client_id, client_secret, username, password):
        raise CloudError(answers.BAD_CREDENTIALS)
    return answers.ok(tokens.issue().as_json())


def check_caller(request: web.Request, params: Params) -> None:
    """Raise the refusal of a call whose client, token or date is not right."""
    values = params.values
    if values.get("clientId") != CLIENT_ID:
        raise CloudError(answers.BAD_CREDENTIALS, "clientId invalid")
    if not request.app[TOKENS_KEY].valid(values.get("accessToken", "")):
        raise CloudError(answers.TOKEN_INVALID)
    try:
        date = int(values.get("date", ""))
    except ValueError:
        raise CloudError(answers.DATE_SKEW, "date is required, in epoch milliseconds") from None
    if abs(date - request.app[CLOCK_KEY].now_ms()) > MAX_SKEW_MS:
        raise CloudError(answers.DATE_SKEW)


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Read the parameters once, check the caller of ``/v3`` calls, answer refusals."""
    if request.path.startswith(ADMIN_PREFIX) or request.match_info.http_exception is not None:
        return await handler(request)
    try:
        params = await read_params(request)
        request[PARAMS_KEY] = params
        if request.path.startswith(API_PREFIX):
            check_caller(request, params)
        return await handler(request)
    except CloudError as refusal:
        return answers.fail(refusal.errcode, refusal.detail)
