"""The gateway's per-app limits: calls per second, calls in flight, and a forced "busy".

Defaults: 50 calls in any one-second window per app (``500031`` beyond), 10 calls in flight
per app (``500032`` for the 11th), never busy (``5205`` when forced). ``processing_ms`` makes
every accepted call take that long inside the in-flight window, so a client's concurrency can
be observed; it is 0 by default. All four are set through ``POST /__admin/limits``.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from mocks.bank.codes import BUSY, RATE_LIMITED, TOO_MANY_IN_FLIGHT, BankRefusal


@dataclass
class Limits:
    """The settings ``POST /__admin/limits`` changes."""

    per_second: int = 50
    max_in_flight: int = 10
    busy: bool = False
    processing_ms: int = 0

    def update(self, changes: Mapping[str, object]) -> None:
        """Apply all of ``changes`` or, if any is invalid, none (``ValueError``)."""
        trial = Limits(**asdict(self))
        trial._apply(changes)
        for key, value in asdict(trial).items():
            setattr(self, key, value)

    def _apply(self, changes: Mapping[str, object]) -> None:
        for key, value in changes.items():
            if key == "busy":
                if not isinstance(value, bool):
                    raise ValueError("busy must be true or false")
                self.busy = value
            elif key in ("per_second", "max_in_flight", "processing_ms"):
                lowest = 0 if key == "processing_ms" else 1
                if not isinstance(value, int) or isinstance(value, bool) or value < lowest:
                    raise ValueError(f"{key} must be an integer ≥ {lowest}")
                setattr(self, key, value)
            else:
                raise ValueError(f"unknown limit {key!r}")

    def as_json(self) -> dict[str, object]:
        return asdict(self)


class Gate:
    """Admits a call for an app or refuses it with ``500031``, ``5205`` or ``500032``.

    The one-second window runs on ``time.monotonic``, not on the adjustable bank clock;
    refused calls do not count against it.
    """

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._in_flight: Counter[str] = Counter()

    @contextmanager
    def admit(self, app_id: str) -> Iterator[None]:
        """Hold one of the app's in-flight places for the duration of the call."""
        now = self._clock()
        calls = self._calls.setdefault(app_id, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.limits.per_second:
            raise BankRefusal(RATE_LIMITED, f"调用频率超限：每秒最多{self.limits.per_second}次")
        if self.limits.busy:
            raise BankRefusal(BUSY, "系统繁忙，请稍后再试")
        if self._in_flight[app_id] >= self.limits.max_in_flight:
            raise BankRefusal(TOO_MANY_IN_FLIGHT, "并发请求过多，请稍后再试")
        calls.append(now)
        self._in_flight[app_id] += 1
        try:
            yield
        finally:
            self._in_flight[app_id] -= 1
