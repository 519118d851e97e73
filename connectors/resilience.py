"""The policies that keep one failing department from taking the others down.

- ``CircuitBreaker``: counts call outcomes over a rolling window; at or above an error rate
  (with a minimum number of calls) it opens, and calls fail at once instead of waiting on a
  dead upstream. After the open interval a few half-open probes go out: the first success
  closes it, a failure opens it again.
- ``RetryPolicy``: how long to wait before the next attempt of a call that may be repeated
  (exponential backoff with full jitter, at least what ``Retry-After`` asks), or ``None`` when
  the next attempt would not fit in the call's time budget.
- ``Bulkhead``: at most ``max_concurrency`` calls in flight; a call waits at most
  ``max_queue_wait_s`` for a place, then fails fast.

Nothing here does I/O or knows aiohttp: ``connectors.base`` wires them into ``_request``, and
every clock is injectable so tests need no real waiting.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from email.utils import parsedate_to_datetime
from enum import Enum

Clock = Callable[[], float]


class BreakerState(Enum):
    """Closed: calls go out. Open: calls fail at once. Half-open: a few probes go out."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


CLOSED_TICKET = 0
"""The ticket of a call admitted while closed (probes get the half-open phase's number)."""


class CircuitBreaker:
    """Rolling-window error-rate breaker with half-open probes; one per department."""

    def __init__(
        self,
        *,
        window_s: float,
        min_calls: int,
        error_rate: float,
        open_s: float,
        half_open_probes: int = 1,
        clock: Clock = time.monotonic,
        on_change: Callable[[BreakerState], None] | None = None,
    ) -> None:
        self.window_s = window_s
        self.min_calls = max(min_calls, 1)
        self.threshold = error_rate
        self.open_s = open_s
        self.half_open_probes = max(half_open_probes, 1)
        self._clock = clock
        self._on_change = on_change
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._state = BreakerState.CLOSED
        self._opened_at = 0.0
        self._phase = CLOSED_TICKET  # numbers half-open phases, so late answers are not probes
        self._probes = 0

    @property
    def state(self) -> BreakerState:
        if self._state is BreakerState.OPEN and self._clock() - self._opened_at >= self.open_s:
            self._phase += 1
            self._probes = 0
            self._change(BreakerState.HALF_OPEN)
        return self._state

    @property
    def error_rate(self) -> float:
        """Failures / calls over the window (0.0 with no calls)."""
        self._forget_old()
        if not self._outcomes:
            return 0.0
        return sum(1 for _, ok in self._outcomes if not ok) / len(self._outcomes)

    @property
    def calls(self) -> int:
        self._forget_old()
        return len(self._outcomes)

    def admit(self) -> int | None:
        """A ticket for ``done`` when the call may go out, ``None`` when it must fail fast."""
        state = self.state
        if state is BreakerState.CLOSED:
            return CLOSED_TICKET
        if state is BreakerState.HALF_OPEN and self._probes < self.half_open_probes:
            self._probes += 1
            return self._phase
        return None

    def done(self, ticket: int, ok: bool | None) -> None:
        """Record an admitted call's outcome; ``None`` when it ended without one (cancelled)."""
        if ticket != CLOSED_TICKET:
            if ticket != self._phase or self._state is not BreakerState.HALF_OPEN:
                return  # a probe of an earlier phase: the breaker has moved on
            self._probes -= 1
            if ok is True:
                self._outcomes.clear()
                self._change(BreakerState.CLOSED)
            elif ok is False:
                self._open()
            return
        if ok is None or self._state is not BreakerState.CLOSED:
            return
        self._outcomes.append((self._clock(), ok))
        self._forget_old()  # trimmed on every call, not only when read: no growth under load
        if not ok and self.calls >= self.min_calls and self.error_rate >= self.threshold:
            self._open()

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._change(BreakerState.OPEN)

    def _change(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)

    def _forget_old(self) -> None:
        horizon = self._clock() - self.window_s
        while self._outcomes and self._outcomes[0][0] < horizon:
            self._outcomes.popleft()


class RetryPolicy:
    """Bounded attempts, exponential backoff with full jitter, ``Retry-After`` honoured."""

    def __init__(
        self,
        *,
        max_retries: int,
        base_s: float,
        cap_s: float,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.max_retries = max_retries
        self.base_s = base_s
        self.cap_s = cap_s
        self._jitter = jitter

    def delay(
        self, retry: int, *, remaining_s: float, retry_after_s: float | None = None
    ) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based), or ``None`` to give up.

        Gives up when the retries are used or the wait would leave nothing of the budget.
        """
        if retry >= self.max_retries:
            return None
        wait = self._jitter(0.0, min(self.cap_s, self.base_s * 2**retry))
        if retry_after_s is not None:
            wait = max(wait, retry_after_s)
        return wait if wait < remaining_s else None


def retry_after_s(value: str | None, *, now: Clock = time.time) -> float | None:
    """Seconds asked by a ``Retry-After`` header (delta seconds or an HTTP date), if any."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - now(), 0.0)
    except (TypeError, ValueError):
        return None


class BulkheadFull(Exception):
    """No place became free within the queue wait."""


class Bulkhead:
    """At most ``max_concurrency`` calls in flight; the rest wait a bounded time."""

    def __init__(self, max_concurrency: int, max_queue_wait_s: float) -> None:
        self.max_concurrency = max_concurrency
        self.max_queue_wait_s = max_queue_wait_s
        self._slots = asyncio.Semaphore(max_concurrency)
        self.in_flight = 0

    async def enter(self, *, remaining_s: float) -> None:
        """Take a place for a call (``leave()`` gives it back); ``BulkheadFull`` after the
        queue wait (or the budget). Plain methods rather than a context manager: every call
        enters, and ``asynccontextmanager`` costs a generator and its frames each time."""
        if self._slots.locked():
            wait = max(min(self.max_queue_wait_s, remaining_s), 0.0)
            try:
                await asyncio.wait_for(self._slots.acquire(), wait)
            except TimeoutError:
                raise BulkheadFull from None
        else:
            await self._slots.acquire()
        self.in_flight += 1

    def leave(self) -> None:
        """Give back the place ``enter`` took."""
        self.in_flight -= 1
        self._slots.release()

    @asynccontextmanager
    async def place(self, *, remaining_s: float) -> AsyncIterator[None]:
        """Hold a place for the block (``enter`` … ``leave``)."""
        await self.enter(remaining_s=remaining_s)
        try:
            yield
        finally:
            self.leave()
