"""A department's per-app limits, kept by all replicas together (``connectors.shared.AppQuota``).

Some departments limit the hub as one app, however many replicas it runs: CCB refuses an
app's eleventh call in flight, the youth center answers ``429`` past 20 calls a second. With
a shared state each call takes a place before it goes out (after the process's own bulkhead):

- ``app_calls_per_second``: one call of a sliding window's allowance (a second and a margin),
  counted from its answer (settled) once it has one,
  waiting as long as the quota says when it is spent;
- ``app_max_concurrency``: one of the app's slots, held until the call ends (a slot of a
  replica that died frees itself after the call's budget).

Both wait at most ``max_queue_wait_s`` (and the call's remaining budget), then fail fast like
a full bulkhead. Without a shared state, or while it is unreachable, nothing is added: each
process keeps only its own bulkhead, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from connectors.resilience import BulkheadFull
from connectors.shared import Shared, SharedUnavailable

_serial = itertools.count()
WINDOW_MARGIN_S = 0.15
"""Calls per second are counted over 1 s plus this, and each call from its answer on (it is
taken when it starts and settled when it is answered): the department received it somewhere
in between, so however late a call reached it (a new connection, a stalled process), its own
one-second window never holds more calls than ours did."""


class QuotaSpent(BulkheadFull):
    """The app's shared allowance did not free up within the queue wait."""


class DepartmentQuota:
    """The per-app concurrency and call rate of one department, over a ``Shared``."""

    def __init__(
        self,
        shared: Shared | None,
        department: str,
        *,
        max_concurrency: int,
        calls_per_second: int,
        max_queue_wait_s: float,
        slot_ttl_s: float,
    ) -> None:
        self._shared = shared
        self._slots = f"quota:{department}:in-flight"
        self._calls = f"quota:{department}:calls"
        self.max_concurrency = max_concurrency
        self.calls_per_second = calls_per_second
        self.max_queue_wait_s = max_queue_wait_s
        self.slot_ttl_s = slot_ttl_s

    @property
    def active(self) -> bool:
        return self._shared is not None and (self.max_concurrency > 0 or self.calls_per_second > 0)

    @asynccontextmanager
    async def place(self, *, remaining_s: float) -> AsyncIterator[None]:
        """Hold the app's place for one call; ``QuotaSpent`` when none comes in time."""
        shared = self._shared
        if shared is None or not self.active:
            yield
            return
        deadline = time.monotonic() + max(min(self.max_queue_wait_s, remaining_s), 0.0)
        holder = f"{shared.owner}:{next(_serial)}"
        held = taken = False
        try:
            if self.calls_per_second > 0:
                await self._one_call(shared, holder, deadline)
                taken = True
            if self.max_concurrency > 0:
                held = await self._slot(shared, holder, deadline)
        except SharedUnavailable:
            held = False  # reported by the backend: this process's bulkhead alone applies
        try:
            yield
        finally:
            if taken:
                # the department saw the call before its answer: from now on it counts, so
                # however late it reached the department, its window never holds more
                with contextlib.suppress(SharedUnavailable):  # else it counts from its start
                    await shared.quota.settle(self._calls, holder)
            if held:
                with contextlib.suppress(SharedUnavailable):  # else it frees itself after its TTL
                    await shared.quota.leave(self._slots, holder)

    async def _one_call(self, shared: Shared, member: str, deadline: float) -> None:
        window = 1.0 + WINDOW_MARGIN_S
        limit = self.calls_per_second
        while (wait := await shared.quota.take(self._calls, limit, window, member)) > 0:
            if time.monotonic() + wait > deadline:
                raise QuotaSpent(f"{self._calls}: the app's calls per second are spent")
            await asyncio.sleep(wait)

    async def _slot(self, shared: Shared, holder: str, deadline: float) -> bool:
        step = 0.005
        while not await shared.quota.enter(
            self._slots, holder, self.max_concurrency, self.slot_ttl_s
        ):
            if time.monotonic() + step > deadline:
                raise QuotaSpent(f"{self._slots}: the app's calls in flight are at the limit")
            await asyncio.sleep(step)  # another replica's call holds the slot: poll for it
            step = min(step * 2, 0.05)
        return True
