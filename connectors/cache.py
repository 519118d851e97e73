"""A cache across requests for department reads: TTL, conditional revalidation, single-flight.

- Fresh entries (younger than their TTL) are answered without any upstream call.
- Expired entries that carry an ``ETag`` are revalidated with ``If-None-Match``; a ``304``
  renews them without re-downloading or re-mapping the body.
- Identical reads in flight at the same moment share one upstream call.
- Only successes are stored: a failed call leaves the previous entry as it was.

Keys must include everything that changes the answer (path, parameters and, for upstreams
that filter by caller, the caller).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from cachetools import LRUCache

T = TypeVar("T")


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


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    revalidated: int
    coalesced: int


class RevalidatingCache(Generic[T]):
    """LRU of mapped values with per-entry freshness, revalidation and single-flight."""

    def __init__(
        self, *, maxsize: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: LRUCache[Hashable, _Entry[T]] = LRUCache(maxsize=maxsize)
        self._inflight: dict[Hashable, asyncio.Task[T]] = {}
        self._ttl_s = ttl_s
        self._clock = clock
        self.hits = self.misses = self.revalidated = self.coalesced = 0

    @property
    def stats(self) -> CacheStats:
        return CacheStats(self.hits, self.misses, self.revalidated, self.coalesced)

    async def get(self, key: Hashable, fetch: Fetch[T]) -> T:
        """The value for ``key``, from cache when fresh, else from ``fetch(etag)``."""
        entry = self._entries.get(key)
        if entry is not None and entry.fresh_until > self._clock():
            self.hits += 1
            return entry.value
        task = self._inflight.get(key)
        if task is None:
            self.misses += 1
            task = asyncio.ensure_future(self._refresh(key, entry, fetch))
            self._inflight[key] = task
            task.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.coalesced += 1
        # shield: one caller giving up must not cancel the call others are waiting for
        return await asyncio.shield(task)

    def clear(self) -> None:
        self._entries.clear()

    async def _refresh(self, key: Hashable, entry: _Entry[T] | None, fetch: Fetch[T]) -> T:
        answer = await fetch(entry.etag if entry is not None else None)
        now = self._clock()
        if isinstance(answer, NotModified):
            if entry is None:
                raise RuntimeError("304 Not Modified for a request sent without a validator")
            self.revalidated += 1
            entry.fresh_until = now + self._ttl_s
            self._entries[key] = entry
            return entry.value
        ttl = self._ttl_s if answer.max_age_s is None else min(self._ttl_s, answer.max_age_s)
        self._entries[key] = _Entry(answer.value, answer.etag, now + ttl)
        return answer.value

    def _settle(self, key: Hashable, done: asyncio.Task[T]) -> None:
        if self._inflight.get(key) is done:
            del self._inflight[key]
        if not done.cancelled():
            done.exception()  # mark retrieved: every waiter may have gone away
