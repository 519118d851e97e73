"""Admission control: at most ``max_in_flight`` GraphQL requests execute at once per process.

Without it, a burst of 1,000 connections starts 1,000 executions at once: each holds its
loaders, upstream answers and partial result in memory (the hub's peak memory grows with the
burst) and every department's bulkhead queue overflows, so most answers come back degraded.
With it, the others wait here, holding nothing but their connection, in arrival order; a
request that cannot start within ``max_wait_s``, or finds ``max_waiting`` already waiting, is
answered at once with ``503`` and ``RATE_LIMITED`` (the vocabulary's "slow down") and a
``Retry-After``. Only ``/graphql`` is admitted this way: health, readiness and metrics answer
whatever the load.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from hub.web.responses import error_response

logger = logging.getLogger("ihub.admission")


class Admission:
    """Counts executing and waiting requests; ``enter``/``leave`` around each execution."""

    def __init__(self, max_in_flight: int, max_waiting: int, max_wait_s: float) -> None:
        if max_in_flight < 1 or max_waiting < 0 or max_wait_s < 0:
            raise ValueError("max_in_flight ≥ 1, max_waiting ≥ 0 and max_wait_s ≥ 0")
        self.max_in_flight = max_in_flight
        self.max_waiting = max_waiting
        self.max_wait_s = max_wait_s
        self._slots = asyncio.Semaphore(max_in_flight)
        self.in_flight = self.waiting = self.refused = 0

    async def enter(self) -> bool:
        """Take a place to execute, waiting if need be; ``False`` if refused."""
        if not self._slots.locked() and self.waiting == 0:
            await self._slots.acquire()  # a free place: taken without waiting
            self.in_flight += 1
            return True
        if self.waiting >= self.max_waiting:
            self.refused += 1
            return False
        self.waiting += 1
        try:
            async with asyncio.timeout(self.max_wait_s):
                await self._slots.acquire()
        except TimeoutError:
            self.refused += 1
            return False
        finally:
            self.waiting -= 1
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1
        self._slots.release()


class AdmissionMiddleware:
    """ASGI middleware applying an ``Admission`` to the paths ``admits(path)`` says."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        admission: Admission,
        admits: Callable[[str], bool] = lambda path: path == "/graphql",
        on_refused: Callable[[], None] = lambda: None,
    ) -> None:
        self.app = app
        self.admission = admission
        self.admits = admits
        self.on_refused = on_refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.admits(scope["path"]):
            await self.app(scope, receive, send)
            return
        if not await self.admission.enter():
            self.on_refused()
            await self._busy(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.leave()

    async def _busy(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = "The hub is busy: try again shortly."
        response = error_response(message, "RATE_LIMITED", 503, scope)
        response.headers["Retry-After"] = str(max(1, math.ceil(self.admission.max_wait_s)))
        await response(scope, receive, send)
