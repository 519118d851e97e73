"""The two loader shapes every department uses, built per request (aiodataloader).

- ``FanOutLoader``: the department has no batch endpoint; one call per distinct key,
  concurrently (the connector's concurrency cap and caches sit underneath).
- ``BatchLoader``: the department has one; one call per batch, results aligned to the keys
  by key (never by position), ``None`` for keys the department does not know.

A failure is returned for its own keys only, and failed keys are not remembered, so a later
load in the same request tries again.

Each batch runs in one task of its own; the dispatch that starts it is two plain callbacks
later (where aiodataloader's own dispatch would be a task: the same moment, one task less a
batch), and a fan-out of a single key makes its call in the batch's task.

Naive mode (``naive=True``, from ``DepartmentPolicy.naive``; the benchmark baseline): batches
of one key and no memo, so every ``load`` is its own connector call, as resolvers that each
fetched their own record would make.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue

K = TypeVar("K")
V = TypeVar("V")


def _naive_options(naive: bool) -> dict[str, Any]:
    """What turns a loader naive: a batch of one per ``load``, nothing remembered."""
    return {"max_batch_size": 1, "cache": False} if naive else {}


class _Dispatching(DataLoader[K, V], Generic[K, V]):
    """aiodataloader's scheduling without its dispatch task: the queue a first ``load``
    starts is dispatched two loop iterations later, as its task would have run (aiodataloader
    schedules a task that dispatches, and a task's first step is itself a callback)."""

    def do_resolve_reject(self, key: K, future: asyncio.Future[V]) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            if self.batch:
                self.loop.call_soon(self.loop.call_soon, dispatch_queue, self)
            else:
                dispatch_queue(self)


class FanOutLoader(_Dispatching[K, V], Generic[K, V]):
    """One call per key, concurrently; per-key failures stay per key."""

    def __init__(self, load_one: Callable[[K], Awaitable[V]], *, naive: bool = False) -> None:
        super().__init__(**_naive_options(naive))
        self.naive = naive
        self._load_one = load_one

    # aiodataloader raises an exception returned for a key (its stub says values only)
    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | BaseException]:  # type: ignore[override]
        if len(keys) == 1:  # alone: no task to wrap it in
            try:
                return [await self._load_one(keys[0])]
            except Exception as exc:
                self.clear(keys[0])
                return [exc]
        answers = await asyncio.gather(
            *(self._load_one(key) for key in keys), return_exceptions=True
        )
        for key, answer in zip(keys, answers, strict=True):
            if isinstance(answer, BaseException):
                self.clear(key)
        return list(answers)


class BatchLoader(_Dispatching[K, V | None], Generic[K, V]):
    """One bulk call per batch; ``load_many`` returns a mapping keyed by what it found."""

    def __init__(
        self,
        load_many: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]],
        *,
        max_batch_size: int | None = None,
        naive: bool = False,
    ) -> None:
        super().__init__(**{"max_batch_size": max_batch_size, **_naive_options(naive)})
        self.naive = naive
        self._load_many = load_many

    async def batch_load_fn(self, keys: Sequence[K]) -> list[V | BaseException | None]:  # type: ignore[override]
        try:
            found = await self._load_many(keys)
        except Exception as exc:
            for key in keys:
                self.clear(key)
            return [exc for _ in keys]
        return [found.get(key) for key in keys]
