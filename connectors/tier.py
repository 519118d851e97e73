"""One department cache's view of the shared state: entries every replica reads and fills.

``RevalidatingCache`` keeps its per-process entries (L1) in front; on a miss it asks the tier:

- ``read(key)``: the shared entry (value, ``ETag``, fresh-until and stored-at as wall-clock
  times) if one was written since the last ``invalidate()``; one ``MGET`` of the entry and the
  cache's generation counter.
- ``lead(key)`` / ``done(key)``: the fill lease: one replica fetches, the others wait for its
  entry (``wait_step_s`` polls, bounded by the caller's deadline) or serve the expired one.
- ``write(key, entry)``: kept ``keep_s`` (the TTL plus the stale-if-error window).
- ``invalidate()``: a new generation: every entry written before is ignored by every replica
  (their L1 copies still live out their TTL, as in separate processes today).

Values are encoded with ``connectors.codec`` (tagged JSON, never pickle).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from connectors import codec
from connectors.shared import Shared, SharedUnavailable

T = TypeVar("T")


@dataclass(frozen=True)
class SharedEntry(Generic[T]):
    value: T
    etag: str | None
    fresh_until: float
    stored_at: float
    """Wall-clock seconds: replicas share no monotonic clock."""


class SharedTier:
    """Namespaced, encoded, generation-checked entries and fill leases of one cache."""

    def __init__(
        self,
        shared: Shared,
        namespace: str,
        *,
        lease_s: float,
        wait_step_s: float = 0.01,
        wall_clock: Callable[[], float],
    ) -> None:
        self._shared = shared
        self._namespace = namespace
        self.lease_s = lease_s
        self.wait_step_s = wait_step_s
        self.wall_clock = wall_clock
        self._generation_key = f"cache:{namespace}:generation"

    def _key(self, key: Hashable) -> str:
        text = repr(key)
        if len(text) > 120:  # long keys (search texts) hashed; short ones stay readable
            text = hashlib.sha256(text.encode()).hexdigest()
        return f"cache:{self._namespace}:{text}"

    async def read(self, key: Hashable) -> tuple[SharedEntry[Any] | None, int]:
        """The entry of ``key`` in the current generation (or ``None``), and that generation."""
        (entry,), generation = await self.read_many([key])
        return entry, generation

    async def read_many(
        self, keys: Sequence[Hashable]
    ) -> tuple[list[SharedEntry[Any] | None], int]:
        """The entries of ``keys`` (``None`` where there is none), in one round trip."""
        *raws, generation = await self._shared.store.get_many(
            [*(self._key(key) for key in keys), self._generation_key]
        )
        current = int(generation) if generation is not None else 0
        return [self._entry(raw, current) for raw in raws], current

    def _entry(self, raw: bytes | None, generation: int) -> SharedEntry[Any] | None:
        if raw is None:
            return None
        try:
            kept = orjson.loads(raw)
            if kept["g"] != generation:
                return None
            value = codec.decode(kept["v"].encode())
            return SharedEntry(value, kept["e"], float(kept["f"]), float(kept["s"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # not ours, or an older layout: refetch and overwrite

    async def write(
        self, key: Hashable, entry: SharedEntry[Any], generation: int, keep_s: float
    ) -> None:
        """Store ``entry`` (best effort: an unreachable store was already reported)."""
        try:
            value = codec.encode(entry.value).decode()
        except TypeError:
            return  # not a record this codec carries: stays in this process only
        body = {"g": generation, "v": value, "e": entry.etag, "f": entry.fresh_until}
        body["s"] = entry.stored_at
        with contextlib.suppress(SharedUnavailable):
            await self._shared.store.put(self._key(key), orjson.dumps(body), keep_s)

    async def lead(self, key: Hashable) -> bool:
        name = self._key(key) + ":fill"
        return await self._shared.leases.acquire(name, self._shared.owner, self.lease_s)

    async def done(self, key: Hashable) -> None:
        with contextlib.suppress(SharedUnavailable):  # else the lease runs out by itself
            await self._shared.leases.release(self._key(key) + ":fill", self._shared.owner)

    async def invalidate(self) -> None:
        with contextlib.suppress(SharedUnavailable):
            await self._shared.store.bump(self._generation_key)
