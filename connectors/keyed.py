"""A TTL cache for departments with batch reads: misses fetched together, keys in flight shared.

Unlike ``RevalidatingCache`` the misses of one call are fetched together, so a department
with a batch endpoint is asked once for all of them. Only what was found is stored.
Stale-if-error: the last value of each key is kept for ``stale_if_error_s``; when a fetch
fails with a department failure and every key it was asked for has such a value, those are
served instead and a ``StaleServe`` is recorded for the caller.
Naive mode (``naive=True``, the benchmark baseline): nothing is kept or shared; every call
fetches all of its keys.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

from cachetools import LRUCache, TTLCache

from connectors import tracing
from connectors.degradation import StaleServe, may_serve_stale, record_stale
from connectors.errors import ConnectorError

V = TypeVar("V")


class KeyedCache(Generic[V]):
    """Values fresh for ``ttl_s`` per key, fetched many keys at once; a key in flight is shared."""

    def __init__(
        self,
        *,
        maxsize: int,
        ttl_s: float,
        clock: Callable[[], float],
        stale_if_error_s: float = 0.0,
        observe: Callable[[str], None] | None = None,
        naive: bool = False,
    ) -> None:
        self._naive = naive
        self._fresh: TTLCache[str, V] = TTLCache(maxsize=maxsize, ttl=ttl_s, timer=clock)
        self._last: LRUCache[str, tuple[V, float]] = LRUCache(maxsize=maxsize)
        self._inflight: dict[str, asyncio.Task[Mapping[str, V]]] = {}
        self._clock = clock
        self._stale_if_error_s = stale_if_error_s
        self._observe = observe or (lambda event: None)

    def fresh(self, key: str) -> V | None:
        """The value of ``key`` if it is fresh, without waiting for anything; else ``None``."""
        if self._naive:
            return None
        value = self._fresh.get(key)
        if value is not None:
            self._observe("hit")
        return value

    async def get_many(
        self,
        keys: Sequence[str],
        fetch: Callable[[list[str]], Awaitable[Mapping[str, V]]],
    ) -> dict[str, V]:
        """The values of ``keys`` that exist, fetching only those neither fresh nor in flight."""
        if self._naive:
            wanted = list(dict.fromkeys(keys))
            for _ in wanted:
                self._observe("miss")
            answer = await fetch(wanted) if wanted else {}
            return {key: answer[key] for key in wanted if key in answer}
        found: dict[str, V] = {}
        waits: dict[asyncio.Task[Mapping[str, V]], list[str]] = {}
        missing: list[str] = []
        for key in keys:
            if (cached := self._fresh.get(key)) is not None:
                found[key] = cached
                self._observe("hit")
            elif (task := self._inflight.get(key)) is not None:
                waits.setdefault(task, []).append(key)
                self._observe("coalesced")
            else:
                missing.append(key)
                self._observe("miss")
        if missing:
            task = asyncio.ensure_future(fetch(missing))
            self._inflight.update((key, task) for key in missing)
            task.add_done_callback(lambda done: self._settle(missing, done))
            waits[task] = missing
        for task, wanted in waits.items():
            try:
                # shield: one caller giving up must not cancel the call others are waiting for
                with tracing.waiting_upstream():  # the call may be another request's
                    answer = await asyncio.shield(task)
            except ConnectorError as exc:
                answer = self._stale(wanted, exc)
            found.update((key, answer[key]) for key in wanted if key in answer)
        return found

    def _stale(self, wanted: list[str], error: ConnectorError) -> Mapping[str, V]:
        """The last values of ``wanted`` if each is young enough to stand in, else re-raise."""
        now = self._clock()
        last = [self._last.get(key) for key in wanted]
        if (
            self._stale_if_error_s <= 0
            or not may_serve_stale(error)
            or any(kept is None or now - kept[1] > self._stale_if_error_s for kept in last)
        ):
            raise error
        kept = [entry for entry in last if entry is not None]
        record_stale(StaleServe(error.department, max(now - at for _, at in kept), error))
        self._observe("stale")
        return {key: entry[0] for key, entry in zip(wanted, kept, strict=True)}

    def _settle(self, keys: list[str], done: asyncio.Task[Mapping[str, V]]) -> None:
        for key in keys:
            if self._inflight.get(key) is done:
                del self._inflight[key]
        if done.cancelled() or done.exception() is not None:
            return
        answer = done.result()
        found = [(key, answer[key]) for key in keys if key in answer]
        self._fresh.update(found)
        now = self._clock()
        self._last.update((key, (value, now)) for key, value in found)
