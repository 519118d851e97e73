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
    ) -> None:
        self._naive = naive
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

    async def _fetch_uncached(self, fetch: Fetch[T]) -> T:
        """Naive mode: one upstream call per read, nothing kept, nothing shared."""
        self.misses += 1
        self._observe("miss")
        answer = await fetch(None)
        if isinstance(answer, NotModified):
            raise RuntimeError("304 Not Modified for a request sent without a validator")
        return answer.value

    async def _refresh(self, key: Hashable, entry: _Entry[T] | None, fetch: Fetch[T]) -> _Served[T]:
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
        if entry is None or self._stale_if_error_s <= 0 or not may_serve_stale(error):
            return None
        age = self._clock() - entry.stored_at
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
