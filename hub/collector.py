"""The cycle collector kept off what lives as long as the process (``HUB_GC_FREEZE``).

A full collection walks every tracked object. What start-up builds (the schema's type graph,
the connectors, the imported modules) lives until the process ends, and so does the
catalogue copy (1,200 items, their search terms, the index), which loads in the background
after start-up: ``gc.freeze()`` moves them into the permanent generation, where no collection
looks. Frozen once at start-up only, a worker under load (loans, 16 clients) still paused
15–17 ms in each full collection — the catalogue's objects — once every ~400 requests, the
1-worker p99; frozen again once the catalogue's first refresh has loaded it, 5 ms.

What is frozen is never collected as a cycle (reference counting still frees it): the second
freeze also takes whatever requests are in flight at that moment, once, so at most their
cyclic garbage is kept.

A young collection came every ~700 allocations (Python's default threshold) whatever was
freed meanwhile: a count freed back below zero is not counted, so with sixteen requests in
flight a loans worker collected its young generation once every five answers, a home worker
more than once an answer, and each of those passes' survivors — what the requests in flight
held — went on to the older generations. Now that an answer's objects are freed by reference
counting when it leaves (``schema.execution``), the hub raises the threshold to 10,000
(``HUB_GC_YOUNG_THRESHOLD``): the collector's time a home screen under load fell from
0.55–0.80 ms to 0.07–0.08 ms, a loans answer's from 0.10–0.15 to 0.001 ms, its largest pause
~5 ms, rarely 10–18 (``bench.gc_pauses``, two runs each).

``PauseTimer`` times every collection (all threads stop for it), by generation, for
``/metrics`` (``ihub_gc_pause_seconds``); ``python -m bench.gc_pauses`` reads it under load.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from typing import Any


def young(threshold: int) -> None:
    """Set the young generation's threshold, the older two's left as they are."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(threshold, middle, old)


class Freezer:
    """Freezes what exists now (after a collection), and says when it did."""

    def __init__(self) -> None:
        self.frozen_at: list[str] = []

    def freeze(self, why: str) -> None:
        gc.collect()
        gc.freeze()
        self.frozen_at.append(why)

    async def freeze_after(self, event: asyncio.Event, why: str) -> None:
        """Freeze once ``event`` is set (e.g. the catalogue copy's first refresh ended)."""
        await event.wait()
        self.freeze(why)

    def status(self) -> dict[str, Any]:
        """For ``/status``: objects frozen, when, and the generations' counts now."""
        return {
            "frozen": gc.get_freeze_count(),
            "frozenAt": list(self.frozen_at),
            "counts": list(gc.get_count()),
            "thresholds": list(gc.get_threshold()),
        }


class PauseTimer:
    """Calls ``observe(generation, seconds)`` after each collection of this process's."""

    def __init__(self, observe: Callable[[int, float], None]) -> None:
        self._observe = observe
        self._started: float | None = None

    def start(self) -> None:
        if self._callback not in gc.callbacks:
            gc.callbacks.append(self._callback)

    def stop(self) -> None:
        if self._callback in gc.callbacks:
            gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self._observe(info["generation"], time.perf_counter() - self._started)
            self._started = None
