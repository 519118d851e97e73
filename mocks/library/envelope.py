"""The openlib envelope: HTTP 200, ``success`` and ``messagelist`` on every answer."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial

from aiohttp import web

OK = "R00001"
BAD_PARAMETER = "E00400"
TOKEN_INVALID = "E00401"  # noqa: S105 - an error code
BAD_CREDENTIALS = "E00403"
NOT_FOUND = "E00404"

Message = dict[str, str]

dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


def message(code: str, text: str) -> Message:
    return {"code": code, "message": text}


def body(success: bool, messages: Sequence[Message], fields: Mapping[str, object]) -> bytes:
    """The exact bytes of an answer (kept verbatim for ``request_id`` replays)."""
    return dumps({"success": success, "messagelist": list(messages), **fields}).encode()


def raw(payload: bytes) -> web.Response:
    return web.Response(body=payload, content_type="application/json", charset="utf-8")


def ok(fields: Mapping[str, object], code: str = OK, notes: Sequence[Message] = ()) -> web.Response:
    """A successful answer; ``notes`` follow the code, e.g. one ``E00404`` per unknown id."""
    return raw(body(True, [message(code, "ok"), *notes], fields))


def fail(code: str, text: str) -> web.Response:
    """A refusal: still HTTP 200, the reason is a code in ``messagelist``."""
    return raw(body(False, [message(code, text)], {}))
