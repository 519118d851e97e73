"""A cache across requests for department reads: TTL, conditional revalidation, single-flight.

- Fresh entries (younger than their TTL) are answered without any upstream call.
- Expired entries that carry an ``ETag`` are revalidated with ``If-None-Match``; a ``304``
  renews them without re-downloading or re-mapping the body.
- Identical reads in flight at the same moment share one upstream call.
- Only successes are stored: a failed call leaves the previous entry as it was.
- Stale-if-error: when a refresh fails with a department failure and the entry is younger
  than ``stale_if_error_s`` (counted from when it was last fetched or revalidated), the old
  value is served and every caller that got it records a ``StaleServe``.

Keys must include everything that changes the answer (path, parameters and, for upstreams
that filter by caller, the caller).

Across replicas (``shared``, a ``connectors.tier.SharedTier``): a miss here asks the shared
entry first; when there is none fresh, one replica takes the fill lease and fetches (with the
shared entry's ``ETag``), the others serve the expired entry if there is one or wait for the
new one until the call's budget, then fetch themselves. Fresh shared entries are kept here
too, no longer than they are fresh. An unreachable shared state leaves this process's cache
working as it does without one.

Naive mode (``DepartmentPolicy.naive``, the benchmark baseline): a cache built with
``naive=True`` keeps nothing and shares nothing, so every read is its own upstream call.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache, TTLCache

from connectors import tracing
from connectors.degradation import StaleServe, may_serve_stale, record_stale
from connectors.errors import ConnectorError
from connectors.shared import SharedUnavailable
from connectors.tier import SharedEntry, SharedTier

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Fetched(Generic[T]):
    """A full answer: the mapped value, its validator and how long it may be kept."""

    value: T
    etag: str | None
    max_age_s: float | None


class NotModified:
    """The upstream answered ``304``: the cached value is still current."""


NOT_MODIFIED = NotModified()

Fetch = Callable[[str | None], Awaitable["Fetched[T] | NotModified"]]


@dataclass
class _Entry(Generic[T]):
    value: T
    etag: str | None
    fresh_until: float
    stored_at: float


@dataclass(frozen=True)
class _Served(Generic[T]):
    value: T
    stale: StaleServe | None = None


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    revalidated: int
    coalesced: int
    stale: int = 0


class RevalidatingCache(Generic[T]):
    """LRU of mapped values with per-entry freshness, revalidation and single-flight."""

    def __init__(
        self,
        *,
        maxsize: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
        stale_if_error_s: float = 0.0,
        observe: Callable[[str], None] | None = None,
        naive: bool = False,
        shared: SharedTier | None = None,
        wait_s: float = 5.0,
    ) -> None:
        self._naive = naive
        self._shared = None if naive else shared
        self._wait_s = wait_s
        self._entries: LRUCache[Hashable, _Entry[T]] = LRUCache(maxsize=maxsize)
        self._inflight: dict[Hashable, asyncio.Task[_Served[T]]] = {}
        self._ttl_s = ttl_s
        self._stale_if_error_s = stale_if_error_s
        self._clock = clock
        self._observe = observe or (lambda event: None)
        self.hits = self.misses = self.revalidated = self.coalesced = self.stale = 0

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, self.revalidated, self.coalesced, self.stale)

    async def get(self, key: Hashable, fetch: Fetch[T]) -> T:
        """The value for ``key``, from cache when fresh, else from ``fetch(etag)``."""
        if self._naive:
            return await self._fetch_uncached(fetch)
        entry = self._entries.get(key)
        if entry is not None and entry.fresh_until > self._clock():
            self.hits += 1
            self._observe("hit")
            return entry.value
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            self._observe("miss")
            task = asyncio.ensure_future(self._refresh(key, entry, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.coalesced += 1
            self._observe("coalesced")
        # shield: one caller giving up must not cancel the call others are waiting for
        with tracing.waiting_upstream():  # the call may be another request's
            served = await asyncio.shield(task)
        if served.stale is not None:
            # recorded by each caller, in its own context: coalesced callers are other requests
            self.stale += 1
            self._observe("stale")
            record_stale(served.stale)
        return served.value

    def clear(self) -> None:
        self._entries.clear()

    async def invalidate(self) -> None:
        """Forget every entry, here and (with a shared tier) in every replica's shared tier."""
        self._entries.clear()
        if self._shared is not None:
            await self._shared.invalidate()

    async def _fetch_uncached(self, fetch: Fetch[T]) -> T:
        """Naive mode: one upstream call per read, nothing kept, nothing shared."""
        self.misses += 1
        self._observe("miss")
        answer = await fetch(None)
        if isinstance(answer, NotModified):
            raise RuntimeError("304 Not Modified for a request sent without a validator")
        return answer.value

    async def _refresh(self, key: Hashable, entry: _Entry[T] | None, fetch: Fetch[T]) -> _Served[T]:
        if self._shared is not None:
            try:
                return await self._refresh_shared(self._shared, key, entry, fetch)
            except SharedUnavailable:
                pass  # reported by the backend: this process fetches on its own
        return await self._refresh_here(key, entry, fetch)

    async def _refresh_shared(
        self, tier: SharedTier, key: Hashable, entry: _Entry[T] | None, fetch: Fetch[T]
    ) -> _Served[T]:
        """The shared entry when fresh; else lead the fill, serve stale, or wait for it."""
        deadline = self._clock() + self._wait_s
        step = tier.wait_step_s
        while True:
            found, generation = await tier.read(key)
            if (served := self._shared_hit(tier, key, found)) is not None:
                return served
            if await tier.lead(key):
                try:
                    # another replica may have filled it and let go between our read and lead
                    filled, generation = await tier.read(key)
                    if (served := self._shared_hit(tier, key, filled)) is not None:
                        return served
                    found = filled if filled is not None else found
                    return await self._fill(tier, key, found, entry, generation, fetch)
                finally:
                    await tier.done(key)
            if found is not None:
                self._observe("shared_stale")  # another replica is refreshing it right now
                return _Served(found.value)
            if self._clock() + step > deadline:
                return await self._refresh_here(key, entry, fetch)
            self._observe("shared_wait")
            await asyncio.sleep(step)  # another replica is fetching: poll for its entry
            step = min(step * 2, 0.1)

    def _shared_hit(
        self, tier: SharedTier, key: Hashable, found: SharedEntry[T] | None
    ) -> _Served[T] | None:
        """``found`` served (and kept here) if it is fresh, else ``None``."""
        now = tier.wall_clock()
        if found is None or found.fresh_until <= now:
            return None
        self._observe("shared_hit")
        self._keep(key, found, now)
        return _Served(found.value)

    async def _fill(
        self,
        tier: SharedTier,
        key: Hashable,
        found: SharedEntry[T] | None,
        entry: _Entry[T] | None,
        generation: int,
        fetch: Fetch[T],
    ) -> _Served[T]:
        """Fetch as the replica holding the fill lease, and share what came back."""
        now = tier.wall_clock()
        if found is None and entry is not None:
            age = self._clock() - entry.stored_at
            found = SharedEntry(entry.value, entry.etag, now, now - age)
        try:
            answer = await fetch(found.etag if found is not None else None)
        except Exception as exc:
            if found is None:
                raise
            stale = self._stale_at(now - found.stored_at, exc)
            if stale is None:
                raise
            return _Served(found.value, stale)
        now = tier.wall_clock()
        if isinstance(answer, NotModified):
            if found is None:
                raise RuntimeError("304 Not Modified for a request sent without a validator")
            self.revalidated += 1
            self._observe("revalidated")
            kept = SharedEntry(found.value, found.etag, now + self._ttl_s, now)
        else:
            ttl = self._ttl_s if answer.max_age_s is None else min(self._ttl_s, answer.max_age_s)
            kept = SharedEntry(answer.value, answer.etag, now + ttl, now)
        self._keep(key, kept, now)
        await tier.write(key, kept, generation, self._ttl_s + self._stale_if_error_s)
        return _Served(kept.value)

    def _keep(self, key: Hashable, found: SharedEntry[T], now: float) -> None:
        """A shared entry as this process's, fresh no longer than it is fresh there."""
        local = self._clock()
        fresh_until = local + max(found.fresh_until - now, 0.0)
        stored_at = local - (now - found.stored_at)
        self._entries[key] = _Entry(found.value, found.etag, fresh_until, stored_at)

    async def _refresh_here(
        self, key: Hashable, entry: _Entry[T] | None, fetch: Fetch[T]
    ) -> _Served[T]:
        try:
            answer = await fetch(entry.etag if entry is not None else None)
        except Exception as exc:
            stale = self._stale(entry, exc)
            if entry is None or stale is None:
                raise
            return _Served(entry.value, stale)
        now = self._clock()
        if isinstance(answer, NotModified):
            if entry is None:
                raise RuntimeError("304 Not Modified for a request sent without a validator")
            self.revalidated += 1
            self._observe("revalidated")
            entry.fresh_until = now + self._ttl_s
            entry.stored_at = now
            self._entries[key] = entry
            return _Served(entry.value)
        ttl = self._ttl_s if answer.max_age_s is None else min(self._ttl_s, answer.max_age_s)
        self._entries[key] = _Entry(answer.value, answer.etag, now + ttl, now)
        return _Served(answer.value)

    def _stale(self, entry: _Entry[T] | None, error: Exception) -> StaleServe | None:
        """What to record if ``entry`` may stand in for the answer ``error`` prevented."""
        if entry is None:
            return None
        return self._stale_at(self._clock() - entry.stored_at, error)

    def _stale_at(self, age: float, error: Exception) -> StaleServe | None:
        """What to record if an answer ``age`` seconds old may stand in for ``error``'s."""
        if self._stale_if_error_s <= 0 or not may_serve_stale(error):
            return None
        if age > self._stale_if_error_s:
            return None
        assert isinstance(error, ConnectorError)
        return StaleServe(error.department, age, error)

    def _settle(self, key: Hashable, done: asyncio.Task[_Served[T]]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # mark retrieved: every waiter may have gone away


class _KeepsNothing(TTLCache[K, V]):
    """A ``TTLCache`` that stores nothing: every look-up misses (naive mode)."""

    def __setitem__(self, key: K, value: V) -> None:
        return None


def ttl_cache(
    *, maxsize: int, ttl_s: float, clock: Callable[[], float], naive: bool = False
) -> TTLCache[K, V]:
    """Records kept ``ttl_s`` by key; with ``naive`` a cache that keeps nothing."""
    kind: type[TTLCache[K, V]] = _KeepsNothing if naive else TTLCache
    return kind(maxsize=maxsize, ttl=ttl_s, timer=clock)
