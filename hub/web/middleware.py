"""HTTP concerns, as pure ASGI middleware: request ids, timing and the request body cap."""

from __future__ import annotations

import os
import re
import time

from starlette.datastructures import MutableHeaders
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.tracing import REQUEST_ID, UPSTREAM, Waits
from hub.store.db import DATABASE

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def header_of(scope: Scope, name: bytes) -> bytes | None:
    """The value of request header ``name`` (lower case), the last one if it is repeated."""
    found = None
    for key, value in scope["headers"]:
        if key == name:
            found = value
    return found


class _TooLarge(Exception):
    """The streamed body went past the limit (raised from ``receive`` into the app)."""


def request_id_of(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", "-"))


class RequestIdMiddleware:
    """Give every request an id (or keep a well-formed incoming ``X-Request-Id``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = (header_of(scope, b"x-request-id") or b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.fullmatch(incoming) else os.urandom(16).hex()
        scope.setdefault("state", {})["request_id"] = request_id
        REQUEST_ID.set(request_id)  # sent on to departments by ``Connector._request``

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-Id"] = request_id
            await send(message)

        await self.app(scope, receive, send_with_id)


class ServerTimingMiddleware:
    """``Server-Timing: upstream;dur=…, db;dur=…, app;dur=…`` on every answer: how long the
    request waited for departments (``connectors.tracing.UPSTREAM``) and for the hub's own
    database (``hub.store.db.DATABASE``), overlapping waits counted once, and how long the hub held
    it in all. ``app`` minus ``upstream`` is the hub's own time; browsers' developer tools
    show them, and the benchmarks use them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        upstream, database = Waits(), Waits()
        UPSTREAM.set(upstream)
        DATABASE.set(database)

        async def send_with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                total = (time.perf_counter() - started) * 1000
                MutableHeaders(scope=message).append(
                    "Server-Timing",
                    f"upstream;dur={upstream.union_s() * 1000:.2f}, "
                    f"db;dur={database.union_s() * 1000:.2f}, app;dur={total:.2f}",
                )
            await send(message)

        await self.app(scope, receive, send_with_timing)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = header_of(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"The request body is larger than {self.max_bytes} bytes.",
                    "extensions": {"code": "BAD_USER_INPUT"},
                }
            ]
        }
        await JSONResponse(body, status_code=413)(scope, receive, send)
