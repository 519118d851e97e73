"""Keeping under a department's calls-per-second quota before it has to say ``429``.

A sliding one-second window in this process. A call holds a slot from the moment it starts
until its answer arrived, and its slot counts for one second (plus a margin) from then: the
department stamps a call somewhere between the two, so counting from the answer is the
side that never overruns. Calls wait in arrival order. The department's ``429`` +
``Retry-After`` stays the backstop (other workers share the quota), honoured by
``Connector._request``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

MARGIN_S = 0.05


class CallPacer:
    """At most ``per_second`` calls in any one-second window, counted from their answers."""

    def __init__(
        self,
        per_second: int,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        self.per_second = per_second
        self._clock = clock
        self._sleep = sleep
        self._calls: list[list[float]] = []  # [finished at], inf while in flight
        self._lock = asyncio.Lock()
        self._finished = asyncio.Event()
        self.waits = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the duration of one call."""
        entry = await self._take()
        try:
            yield
        finally:
            entry[0] = self._clock()
            self._finished.set()

    async def _take(self) -> list[float]:
        async with self._lock:
            while True:
                horizon = self._clock() - 1.0 - MARGIN_S
                self._calls = [call for call in self._calls if call[0] > horizon]
                if len(self._calls) < self.per_second:
                    entry = [math.inf]
                    self._calls.append(entry)
                    return entry
                self.waits += 1
                finished = [call[0] for call in self._calls if call[0] != math.inf]
                if finished:
                    await self._sleep(min(finished) - horizon)
                else:  # every slot is in flight: wait for an answer
                    self._finished.clear()
                    await self._finished.wait()
