"""Identical reads in flight at the same moment share one upstream call; nothing is kept after.

This is coalescing, not caching: a read that starts after the shared call has answered makes
its own call, so a live read (a resident's loans, a lock's gateways) is never older than the
request that asked for it. ``forget()`` is called before every write a connector sends: a
read that starts after a write never joins one that started before it, so a resident who
borrows a book and then opens the home screen sees the loan.

Waiters are shielded from each other: one request giving up (client gone, deadline) does not
cancel the call the others are waiting for. A failure reaches every waiter of that call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar, cast

T = TypeVar("T")


class InFlight:
    """Shares one call among identical concurrent reads, keyed by what makes them identical."""

    def __init__(
        self, *, enabled: bool = True, observe: Callable[[str], None] | None = None
    ) -> None:
        self.enabled = enabled
        self._calls: dict[Hashable, asyncio.Task[Any]] = {}
        self._observe = observe or (lambda event: None)
        self.shared = 0
        """Reads answered by another read's call (for tests and metrics)."""

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``'s answer, or the answer of the identical call already in flight."""
        if not self.enabled:
            return await call()
        task = self._calls.get(key)
        if task is None:
            task = asyncio.ensure_future(call())
            self._calls[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.shared += 1
            self._observe("coalesced")
        return cast(T, await asyncio.shield(task))

    def forget(self) -> None:
        """Let no later read join a call already in flight (those calls still answer theirs)."""
        self._calls.clear()

    def _settle(self, key: Hashable, done: asyncio.Task[Any]) -> None:
        if self._calls.get(key) is done:
            del self._calls[key]
        if not done.cancelled():
            done.exception()  # mark retrieved: every waiter may have gone away
