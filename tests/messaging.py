"""Helpers for the messaging tests: a webhook the SMS mock calls back, the mocks' clocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiohttp import web

WAIT_S = 10.0
"""Only a bound against hanging: callbacks arrive in milliseconds."""


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """A webhook on a free loopback port recording every request; ``refuse`` the first N."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    refuse: int = 0
    refused: int = 0
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.refused < self.refuse:
            self.refused += 1
            return web.Response(status=500)
        async with self._arrived:
            self.received.append(Received(dict(request.headers), body))
            self._arrived.notify_all()
        return web.json_response({"code": 0, "msg": "成功"})

    async def wait_for(self, count: int) -> list[Received]:
        """The first ``count`` requests, once that many have arrived."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received) >= count), WAIT_S
            )
        return self.received[:count]


@asynccontextmanager
async def receiver() -> AsyncIterator[CallbackReceiver]:
    found = CallbackReceiver()
    app = web.Application()
    app.router.add_post("/webhooks/sms", found.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    found.url = f"http://127.0.0.1:{port}/webhooks/sms"
    try:
        yield found
    finally:
        await runner.cleanup()


def set_callback(url: str, callback: str | None) -> None:
    httpx.post(f"{url}/__admin/callback", json={"url": callback}).raise_for_status()


def set_clock(url: str, **change: Any) -> dict[str, Any]:
    """``now="2026-11-27T10:00:00+08:00"``, ``advance_s=61`` or ``offset_s=0``."""
    answer: dict[str, Any] = (
        httpx.post(f"{url}/__admin/clock", json=change).raise_for_status().json()
    )
    return answer


def reset(url: str) -> None:
    httpx.post(f"{url}/__admin/reset").raise_for_status()


def outbox(url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = httpx.get(f"{url}/__admin/outbox").json()["messages"]
    return messages


def admin_post(url: str, path: str, body: Any = None) -> dict[str, Any]:
    """``POST /__admin/<path>`` on a mock; its JSON answer."""
    answer: dict[str, Any] = (
        httpx.post(f"{url}/__admin/{path}", json=body).raise_for_status().json()
    )
    return answer


def admin_get(url: str, path: str) -> dict[str, Any]:
    answer: dict[str, Any] = httpx.get(f"{url}/__admin/{path}").raise_for_status().json()
    return answer
