"""What replicas of the hub share, as seams: a byte store, leases, and per-app quotas.

``None`` wherever a ``Shared`` is taken means in-process, exactly as one replica has always
been. The hub passes a Redis-backed ``Shared`` (``hub.shared``) when ``HUB_REDIS_URL`` is set.

- ``SharedStore``: bytes by key with a time to live (cache entries, persisted documents), a
  counter per key (cache generations).
- ``Lease``: one owner at a time per name, for ``ttl_s`` unless renewed; an owner that dies
  loses it when the TTL runs out. Background work (scans, refreshes) and the caches' fill
  locks (one replica fetches, the others wait) take one. ``InProcessLeases`` is the
  one-process implementation.
- ``AppQuota``: limits a department sets per app, shared by every replica: calls in flight
  (``enter``/``leave`` a slot) and calls per second (``take``, a sliding window).

Every method of a shared backend may raise ``SharedUnavailable``: the backend has already
warned and counted it, and the caller does what one process alone would do (it degrades; a
resident never sees an error for it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


class SharedUnavailable(Exception):
    """The shared state cannot be reached now: behave as one process alone."""


class SharedStore(Protocol):
    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """The values of ``keys`` (``None`` for a missing one), in one round trip."""
        ...

    async def put(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def bump(self, key: str) -> int:
        """Add one to the counter ``key`` (0 when it was missing) and answer the new value."""
        ...


class Lease(Protocol):
    """Named leases: ``acquire`` succeeds for one owner at a time, until ``ttl_s`` passes
    without a ``renew``, or ``release``. ``renew`` and ``release`` by another owner fail."""

    async def acquire(self, name: str, owner: str, ttl_s: float) -> bool: ...

    async def renew(self, name: str, owner: str, ttl_s: float) -> bool: ...

    async def release(self, name: str, owner: str) -> bool: ...


class AppQuota(Protocol):
    async def enter(self, name: str, holder: str, limit: int, ttl_s: float) -> bool:
        """Hold one of ``limit`` slots of ``name`` (for ``ttl_s`` at most); ``False`` if full."""
        ...

    async def leave(self, name: str, holder: str) -> None: ...

    async def take(self, name: str, limit: int, window_s: float, member: str) -> float:
        """One call (``member``, unique) of at most ``limit`` in any ``window_s``: 0.0 when
        taken, else the seconds to wait before asking again."""
        ...

    async def settle(self, name: str, member: str) -> None:
        """The call ``member`` has been answered: it counts from now, not from when it was
        taken (the department saw it somewhere in between)."""
        ...


@dataclass(frozen=True)
class Shared:
    """The shared state a connector is given: where its caches, fill locks and quotas live."""

    store: SharedStore
    leases: Lease
    quota: AppQuota
    owner: str
    """This process's name in leases and slots (unique per replica and start)."""


class InProcessLeases:
    """``Lease`` for one process: a dict of (owner, expiry) on a monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._held: dict[str, tuple[str, float]] = {}

    def _holder(self, name: str) -> str | None:
        held = self._held.get(name)
        if held is None or held[1] <= self._clock():
            self._held.pop(name, None)
            return None
        return held[0]

    async def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        if self._holder(name) is not None:
            return False
        self._held[name] = (owner, self._clock() + ttl_s)
        return True

    async def renew(self, name: str, owner: str, ttl_s: float) -> bool:
        if self._holder(name) != owner:
            return False
        self._held[name] = (owner, self._clock() + ttl_s)
        return True

    async def release(self, name: str, owner: str) -> bool:
        if self._holder(name) != owner:
            return False
        del self._held[name]
        return True
