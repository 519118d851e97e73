"""Circulation writes: POST forms, answered once per ``request_id`` and replayed verbatim."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from mocks.library import envelope
from mocks.library.circulation import Library, Outcome
from mocks.library.keys import LIBRARY_KEY, REPLAYS_KEY

Form = dict[str, str]
Action = Callable[[Library, Form], Outcome]
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _write(action: Action, required: tuple[str, ...]) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        posted = await request.post()
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
        request_id = form.get("request_id", "")
        if not request_id:
            return envelope.fail(envelope.BAD_PARAMETER, "request_id required")
        replays = request.app[REPLAYS_KEY]
        stored = replays.get(request_id)
        if stored is not None:
            return envelope.raw(stored)
        missing = [name for name in required if not form.get(name)]
        if missing:
            outcome = Outcome(envelope.BAD_PARAMETER, f"{', '.join(missing)} required")
        else:
            outcome = action(request.app[LIBRARY_KEY], form)
        messages = [envelope.message(outcome.code, outcome.message)]
        payload = envelope.body(outcome.ok, messages, outcome.payload)
        replays[request_id] = payload
        return envelope.raw(payload)

    return handle


def _lend(library: Library, form: Form) -> Outcome:
    return library.lend(form["rdid"], form["barcode"])


def _renew(library: Library, form: Form) -> Outcome:
    return library.renew(form["rdid"], form["barcode"])


def _return(library: Library, form: Form) -> Outcome:
    return library.give_back(form["barcode"])


lend_book = _write(_lend, ("rdid", "barcode"))
"""``POST /openlib/service/barcode/lendbook`` form ``token, rdid, barcode, request_id``."""

renew_book = _write(_renew, ("rdid", "barcode"))
"""``POST /openlib/service/barcode/renewbook`` form ``token, rdid, barcode, request_id``."""

return_book = _write(_return, ("barcode",))
"""``POST /openlib/service/barcode/returnbook`` form ``token, barcode, request_id``."""
