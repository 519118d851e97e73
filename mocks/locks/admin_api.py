"""The lock mock's own admin calls: its clock, its tokens, forced lock states, the unlock log."""

from __future__ import annotations

import json

from aiohttp import web

from mocks.locks.keys import CLOCK_KEY, CLOUD_KEY, COMMANDS_KEY, TOKENS_KEY

STATE_FLAGS = ("online", "gateway_online", "busy", "gateway_busy")


def _bad(reason: str, status: int = 400) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _json_object(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


async def get_clock(request: web.Request) -> web.Response:
    """``GET /__admin/clock``: the offset in force and the mock's now."""
    return web.json_response(request.app[CLOCK_KEY].as_json())


async def set_clock(request: web.Request) -> web.Response:
    """``POST /__admin/clock {"offset_seconds": N}``: now is wall time + N (not cumulative)."""
    try:
        offset = (await _json_object(request)).get("offset_seconds")
        if not isinstance(offset, (int, float)) or isinstance(offset, bool):
            raise ValueError("offset_seconds must be a number")
    except ValueError as exc:
        return _bad(str(exc))
    clock = request.app[CLOCK_KEY]
    clock.offset_seconds = float(offset)
    return web.json_response(clock.as_json())


async def expire_tokens(request: web.Request) -> web.Response:
    """``POST /__admin/tokens/expire``: every access token becomes invalid (refresh tokens not)."""
    return web.json_response({"expired": request.app[TOKENS_KEY].expire_access()})


async def lock_state(request: web.Request) -> web.Response:
    """``GET|POST /__admin/locks/{lockId}/state``; POST sets some of ``online``,
    ``gateway_online`` (every gateway of the lock), ``busy``, ``gateway_busy`` (booleans) and
    ``fail_with`` (an errcode every later command on the lock ends with, or null)."""
    cloud = request.app[CLOUD_KEY]
    try:
        lock_id = int(request.match_info["lock_id"])
    except ValueError:
        return _bad("lockId must be an integer")
    if lock_id not in cloud.locks:
        return _bad(f"no lock {lock_id}", status=404)
    if request.method == "POST":
        try:
            _apply_state(request, lock_id, await _json_object(request))
        except ValueError as exc:
            return _bad(str(exc))
    return web.json_response(cloud.state_json(lock_id))


def _apply_state(request: web.Request, lock_id: int, changes: dict[str, object]) -> None:
    unknown = set(changes) - {*STATE_FLAGS, "fail_with"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    for flag in STATE_FLAGS:
        if flag in changes and not isinstance(changes[flag], bool):
            raise ValueError(f"{flag} must be true or false")
    fail_with = changes.get("fail_with")
    if fail_with is not None and (not isinstance(fail_with, int) or isinstance(fail_with, bool)):
        raise ValueError("fail_with must be an integer errcode or null")
    cloud = request.app[CLOUD_KEY]
    state = cloud.states[lock_id]
    for flag in ("online", "busy", "gateway_busy"):
        if flag in changes:
            setattr(state, flag, changes[flag])
    if "gateway_online" in changes:
        for gateway in cloud.gateways[lock_id]:
            gateway.online = bool(changes["gateway_online"])
    if "fail_with" in changes:
        state.fail_with = fail_with


async def list_unlocks(request: web.Request) -> web.Response:
    """``GET /__admin/unlocks``: every unlock call that passed client, token and date checks,
    ``[{commandId, lockId, uid, at, errcode}]`` (``commandId`` null when refused)."""
    return web.json_response(request.app[COMMANDS_KEY].received)


async def clear_unlocks(request: web.Request) -> web.Response:
    """``DELETE /__admin/unlocks``: forget the log (issued commands stay queryable)."""
    received = request.app[COMMANDS_KEY].received
    count = len(received)
    received.clear()
    return web.json_response({"cleared": count})


def install_locks_admin(app: web.Application) -> None:
    """Add the lock mock's admin routes next to the common admin surface."""
    router = app.router
    router.add_get("/__admin/clock", get_clock)
    router.add_post("/__admin/clock", set_clock)
    router.add_post("/__admin/tokens/expire", expire_tokens)
    router.add_get("/__admin/locks/{lock_id}/state", lock_state)
    router.add_post("/__admin/locks/{lock_id}/state", lock_state)
    router.add_get("/__admin/unlocks", list_unlocks)
    router.add_delete("/__admin/unlocks", clear_unlocks)
