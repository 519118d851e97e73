"""The center's per-key call limit: a sliding one-second window on the monotonic clock."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

DEFAULT_PER_SECOND = 20


class RateLimiter:
    """At most ``per_second`` accepted calls per key in any one-second window.

    Refused calls do not count, so a client that backs off for the ``Retry-After`` second gets
    through. The window runs on ``time.monotonic``, not on the adjustable mock clock.
    """

    def __init__(
        self,
        per_second: int = DEFAULT_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count a call for ``key`` and say whether it is within the limit."""
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.per_second:
            return False
        calls.append(now)
        return True
