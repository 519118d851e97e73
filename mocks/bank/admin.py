"""The bank's own admin routes, besides the shared ``/__admin/stats`` and ``/__admin/faults``.

``GET|POST /__admin/clock``   ``{"offset_seconds": N}`` sets the bank's now to wall time + N
                              (absolute); booking window, cancellation and queues follow.
                              Timestamp skew is checked against this clock too.
``GET|POST /__admin/limits``  ``{"per_second": 50, "max_in_flight": 10, "busy": false,
                              "processing_ms": 0}``; unnamed keys keep their value
``POST /__admin/appointments/{no}/status``  ``{"status": "SERVED" | "NO_SHOW"}`` moves a BOOKED
                              appointment along (canonical names for both banks); 404 unknown,
                              409 not BOOKED, 400 other statuses
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from mocks.bank.clock import stamp
from mocks.bank.codes import NOT_CANCELLABLE, NOT_FOUND, BankRefusal
from mocks.bank.state import BANK_KEY


def install_bank_admin(app: web.Application) -> None:
    """Add the clock, limits and appointment-status routes."""
    app.router.add_get("/__admin/clock", _get_clock)
    app.router.add_post("/__admin/clock", _set_clock)
    app.router.add_get("/__admin/limits", _get_limits)
    app.router.add_post("/__admin/limits", _set_limits)
    app.router.add_post("/__admin/appointments/{number}/status", _set_status)


async def _body(request: web.Request) -> dict[str, object]:
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(
            text='{"error":"body must be a JSON object"}', content_type="application/json"
        )
    return body


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _clock_view(request: web.Request) -> web.Response:
    clock = request.app[BANK_KEY].clock
    return web.json_response(
        {"offset_seconds": clock.offset.total_seconds(), "now": stamp(clock.now())}
    )


async def _get_clock(request: web.Request) -> web.Response:
    return _clock_view(request)


async def _set_clock(request: web.Request) -> web.Response:
    offset = (await _body(request)).get("offset_seconds")
    if not isinstance(offset, (int, float)) or isinstance(offset, bool):
        return _error(400, "offset_seconds must be a number")
    request.app[BANK_KEY].clock.offset = timedelta(seconds=offset)
    return _clock_view(request)


async def _get_limits(request: web.Request) -> web.Response:
    return web.json_response(request.app[BANK_KEY].gate.limits.as_json())


async def _set_limits(request: web.Request) -> web.Response:
    limits = request.app[BANK_KEY].gate.limits
    try:
        limits.update(await _body(request))
    except ValueError as exc:
        return _error(400, str(exc))
    return web.json_response(limits.as_json())


async def _set_status(request: web.Request) -> web.Response:
    number = request.match_info["number"]
    status = (await _body(request)).get("status")
    try:
        appointment = request.app[BANK_KEY].book.settle(number, str(status))
    except BankRefusal as refusal:
        http = {NOT_FOUND: 404, NOT_CANCELLABLE: 409}.get(refusal.code, 400)
        return _error(http, refusal.message)
    return web.json_response({"appointment_no": appointment.number, "status": appointment.status})
