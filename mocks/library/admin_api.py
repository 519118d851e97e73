"""The library mock's own admin calls: move its clock, expire its tokens."""

from __future__ import annotations

import json

from aiohttp import web

from mocks.library.keys import CLOCK_KEY, TOKENS_KEY


async def get_clock(request: web.Request) -> web.Response:
    """``GET /__admin/clock``: the offset in force, and now / today as the mock sees them."""
    return web.json_response(request.app[CLOCK_KEY].as_json())


async def set_clock(request: web.Request) -> web.Response:
    """``POST /__admin/clock {"offset_seconds": N}``: now is wall time + N (not cumulative)."""
    try:
        changes = await request.json()
        offset = changes.get("offset_seconds") if isinstance(changes, dict) else None
        if not isinstance(offset, (int, float)) or isinstance(offset, bool):
            raise ValueError("offset_seconds must be a number")
    except (ValueError, json.JSONDecodeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    clock = request.app[CLOCK_KEY]
    clock.offset_seconds = float(offset)
    return web.json_response(clock.as_json())


async def expire_tokens(request: web.Request) -> web.Response:
    """``POST /__admin/tokens/expire``: every token issued so far becomes invalid."""
    return web.json_response({"expired": request.app[TOKENS_KEY].expire_all()})


def install_library_admin(app: web.Application) -> None:
    """Add the clock and token admin routes next to the common admin surface."""
    app.router.add_get("/__admin/clock", get_clock)
    app.router.add_post("/__admin/clock", set_clock)
    app.router.add_post("/__admin/tokens/expire", expire_tokens)
