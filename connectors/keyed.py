"""A TTL cache for departments with batch reads: misses fetched together, keys in flight shared.

Unlike ``RevalidatingCache`` the misses of one call are fetched together, so a department
with a batch endpoint is asked once for all of them. Only what was found is stored.
Stale-if-error: the last value of each key is kept for ``stale_if_error_s``; when a fetch
fails with a department failure and every key it was asked for has such a value, those are
served instead and a ``StaleServe`` is recorded for the caller.
Naive mode (``naive=True``, the benchmark baseline): nothing is kept or shared; every call
fetches all of its keys.

Across replicas (``shared``, a ``connectors.tier.SharedTier``): the misses are read from the
shared entries first (one round trip); of those still missing, this replica fetches the keys
whose fill lease it takes, in one batch, and shares what it found (and, for a moment, what it
did not find); the keys another replica is fetching are polled for until the budget, then
fetched here. Shared values are kept here no longer than they are fresh there.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

from cachetools import LRUCache, TLRUCache

from connectors import tracing
from connectors.degradation import StaleServe, may_serve_stale, record_stale
from connectors.errors import ConnectorError
from connectors.shared import SharedUnavailable
from connectors.tier import SharedEntry, SharedTier

V = TypeVar("V")
ABSENT_S = 1.0
"""How long a key the department did not know is marked so in the shared entries: long
enough for the replicas waiting on the fetch, short enough to ask again soon."""
Fetch = Callable[[list[str]], Awaitable[Mapping[str, V]]]
Timed = Mapping[str, tuple[V, float]]
"""Values with the local clock time until which they are fresh."""


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
        shared: SharedTier | None = None,
        wait_s: float = 5.0,
    ) -> None:
        self._naive = naive
        self._shared = None if naive else shared
        self._wait_s = wait_s
        self._ttl_s = ttl_s
        self._fresh: TLRUCache[str, tuple[V, float]] = TLRUCache(
            maxsize=maxsize, ttu=lambda key, kept, now: kept[1], timer=clock
        )
        self._last: LRUCache[str, tuple[V, float]] = LRUCache(maxsize=maxsize)
        self._inflight: dict[str, asyncio.Task[Timed[V]]] = {}
        self._clock = clock
        self._stale_if_error_s = stale_if_error_s
        self._observe = observe or (lambda event: None)

    def fresh(self, key: str) -> V | None:
        """The value of ``key`` if it is fresh, without waiting for anything; else ``None``."""
        if self._naive:
            return None
        kept = self._fresh.get(key)
        if kept is None:
            return None
        self._observe("hit")
        return kept[0]

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
        waits: dict[asyncio.Task[Timed[V]], list[str]] = {}
        missing: list[str] = []
        for key in keys:
            if (cached := self._fresh.get(key)) is not None:
                found[key] = cached[0]
                self._observe("hit")
            elif (task := self._inflight.get(key)) is not None:
                waits.setdefault(task, []).append(key)
                self._observe("coalesced")
            else:
                missing.append(key)
                self._observe("miss")
        if missing:
            task = asyncio.ensure_future(self._fetch(missing, fetch))
            self._inflight.update((key, task) for key in missing)
            task.add_done_callback(lambda done: self._settle(missing, done))
            waits[task] = missing
        for task, wanted in waits.items():
            try:
                # shield: one caller giving up must not cancel the call others are waiting for
                with tracing.waiting_upstream():  # the call may be another request's
                    timed = await asyncio.shield(task)
            except ConnectorError as exc:
                timed = self._stale(wanted, exc)
            found.update((key, timed[key][0]) for key in wanted if key in timed)
        return found

    async def _fetch(self, keys: list[str], fetch: Fetch[V]) -> Timed[V]:
        if self._shared is not None:
            try:
                return await self._fetch_shared(self._shared, keys, fetch)
            except SharedUnavailable:
                pass  # reported by the backend: this process fetches on its own
        return self._timed(await fetch(keys))

    def _timed(self, answer: Mapping[str, V]) -> Timed[V]:
        until = self._clock() + self._ttl_s
        return {key: (value, until) for key, value in answer.items()}

    async def _fetch_shared(self, tier: SharedTier, keys: list[str], fetch: Fetch[V]) -> Timed[V]:
        """Shared entries where fresh; this replica fetches the keys whose lease it takes."""
        deadline = self._clock() + self._wait_s
        step = tier.wait_step_s
        found: dict[str, tuple[V, float]] = {}
        pending = keys
        while pending:
            entries, generation = await tier.read_many(pending)
            missing = self._take_fresh(tier, pending, entries, found)
            if not missing:
                break
            leads = await asyncio.gather(*(tier.lead(key) for key in missing))
            mine = [key for key, led in zip(missing, leads, strict=True) if led]
            if mine:
                try:
                    # another replica may have filled some and let go between read and lead
                    entries, generation = await tier.read_many(mine)
                    unfilled = self._take_fresh(tier, mine, entries, found)
                    if unfilled:
                        found.update(await self._fill(tier, unfilled, generation, fetch))
                finally:
                    await asyncio.gather(*(tier.done(key) for key in mine))
            pending = [key for key in missing if key not in mine]
            if pending and self._clock() + step > deadline:
                found.update(self._timed(await fetch(pending)))
                break
            if pending:
                self._observe("shared_wait")
                await asyncio.sleep(step)  # other replicas are fetching these: poll for them
                step = min(step * 2, 0.1)
        return found

    def _take_fresh(
        self,
        tier: SharedTier,
        keys: list[str],
        entries: Sequence[SharedEntry[V | None] | None],
        found: dict[str, tuple[V, float]],
    ) -> list[str]:
        """Put the fresh shared ``entries`` of ``keys`` into ``found``; the keys left."""
        now, local = tier.wall_clock(), self._clock()
        missing = []
        for key, entry in zip(keys, entries, strict=True):
            if entry is None or entry.fresh_until <= now:
                missing.append(key)
                continue
            self._observe("shared_hit")
            if entry.value is not None:  # None: the department does not know the key
                found[key] = (entry.value, local + entry.fresh_until - now)
        return missing

    async def _fill(
        self, tier: SharedTier, keys: list[str], generation: int, fetch: Fetch[V]
    ) -> Timed[V]:
        answer = await fetch(keys)
        now = tier.wall_clock()
        keep = self._ttl_s + self._stale_if_error_s

        def entry(key: str) -> SharedEntry[V | None]:
            if key in answer:
                return SharedEntry(answer[key], None, now + self._ttl_s, now)
            return SharedEntry(None, None, now + min(ABSENT_S, self._ttl_s), now)

        await asyncio.gather(*(tier.write(key, entry(key), generation, keep) for key in keys))
        return self._timed(answer)

    def _stale(self, wanted: list[str], error: ConnectorError) -> Timed[V]:
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
        return {key: entry for key, entry in zip(wanted, kept, strict=True)}

    def _settle(self, keys: list[str], done: asyncio.Task[Timed[V]]) -> None:
        for key in keys:
            if self._inflight.get(key) is done:
                del self._inflight[key]
        if done.cancelled() or done.exception() is not None:
            return
        answer = done.result()
        found = [(key, answer[key]) for key in keys if key in answer]
        self._fresh.update(found)
        now = self._clock()
        self._last.update((key, (kept[0], now)) for key, kept in found)
