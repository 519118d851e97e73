"""What stands before every API call: the API key, the call limit, idempotent writes.

Admin calls (``/__admin/…``) pass straight through. A business ``Refusal`` raised by a handler
becomes its error answer here, inside the idempotency wrapper, so refusals replay too.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import ADMIN_PREFIX, Handler
from mocks.youth.answers import error
from mocks.youth.enrollment import Refusal
from mocks.youth.idempotency import once
from mocks.youth.state import STATE_KEY

API_KEY = "dev-youth-key"
API_KEY_HEADER = "X-Api-Key"


@web.middleware
async def guard_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    state = request.app[STATE_KEY]
    key = request.headers.get(API_KEY_HEADER)
    if key != API_KEY:
        return error(401, "unauthorized", f"缺少或无效的 {API_KEY_HEADER}")
    if not state.limiter.allow(key):
        message = f"调用过于频繁：每秒最多 {state.limiter.per_second} 次"
        return error(429, "rate_limited", message, **{"Retry-After": "1"})

    async def run() -> web.StreamResponse:
        try:
            return await handler(request)
        except Refusal as refusal:
            return error(refusal.status, refusal.code, refusal.message)

    if request.method == "POST":
        return await once(request, state.replies, key, run)
    return await run()
