"""Identical reads in flight at the same moment share one upstream call; nothing is kept after.

This is coalescing, not caching: a read that starts after the shared call has answered makes
its own call, so a live read (a resident's loans, a lock's gateways) is never older than the
request that asked for it. ``forget()`` is called before every write a connector sends: a
read that starts after a write never joins one that started before it, so a resident who
borrows a book and then opens the home screen sees the loan.

The first read of a key makes the call itself, in the task it runs in (no task of its own: a
home screen makes a few dozen reads and nearly every one is alone); identical reads that
start while it is in flight wait for its answer. Waiters are shielded from each other: a waiter
giving up leaves the call alone, and when the read that makes the call gives up (client gone,
deadline), its call goes with it and the reads waiting for it make the call again (one among
them makes it, the others wait for that one). A failure reaches every waiter of that call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class _GivenUp(Exception):
    """What waiters are told when the read whose call they share gave up before it answered."""


class InFlight:
    """Shares one call among identical concurrent reads, keyed by what makes them identical."""

    def __init__(
        self, *, enabled: bool = True, observe: Callable[[str], None] | None = None
    ) -> None:
        self.enabled = enabled
        self._calls: dict[Hashable, list[asyncio.Future[Any]]] = {}
        """Per key in flight, the futures of the reads waiting for its call."""
        self._observe = observe or (lambda event: None)
        self.shared = 0
        """Reads that joined another read's call (for tests and metrics)."""

    def __len__(self) -> int:
        return len(self._calls)

    async def run(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """``call()``'s answer, or the answer of the identical call already in flight."""
        if not self.enabled:
            return await call()
        joined_once = False
        while (waiting := self._calls.get(key)) is not None:
            if not joined_once:
                joined_once = True
                self.shared += 1
                self._observe("coalesced")
            answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            waiting.append(answer)
            try:
                return await answer
            except _GivenUp:
                continue  # its caller went away with it: make the call (or join who does)
        waiting = []
        self._calls[key] = waiting
        try:
            result = await call()
        except Exception as exc:
            self._settle(key, waiting, exc)
            raise
        except BaseException:  # cancelled (or the process is stopping): the waiters go on
            self._settle(key, waiting, _GivenUp())
            raise
        self._settle(key, waiting, None, result)
        return result

    def forget(self) -> None:
        """Let no later read join a call already in flight (those calls still answer theirs)."""
        self._calls.clear()

    def _settle(
        self,
        key: Hashable,
        waiting: list[asyncio.Future[Any]],
        error: BaseException | None,
        result: object = None,
    ) -> None:
        if self._calls.get(key) is waiting:
            del self._calls[key]
        for answer in waiting:
            if answer.done():  # that waiter gave up
                continue
            if error is None:
                answer.set_result(result)
            else:
                answer.set_exception(error)
