"""Keeping under a department's calls-per-second quota before it has to say ``429``.

A sliding one-second window of send times in this process: a call waits, in arrival order,
until fewer than ``per_second`` calls went out in the last second (plus a small margin for
the department's own clock). The department's ``429`` + ``Retry-After`` stays the backstop
(other workers and other apps share the quota), honoured by ``Connector._request``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

MARGIN_S = 0.05


class CallPacer:
    """At most ``per_second`` calls started in any one-second window."""

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
        self._sent: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waits = 0

    async def slot(self) -> None:
        """Return when one more call may start now."""
        async with self._lock:
            while True:
                now = self._clock()
                while self._sent and self._sent[0] <= now - 1.0 - MARGIN_S:
                    self._sent.popleft()
                if len(self._sent) < self.per_second:
                    self._sent.append(now)
                    return
                self.waits += 1
                await self._sleep(self._sent[0] + 1.0 + MARGIN_S - now)
