"""What the hub last saw of a department: outcomes, latency, breaker — for ``/readyz``, status.

Updated by ``Connector._request`` on every call; read by operators' endpoints. Percentiles
are over a recent window (the last ``LatencyWindow.size`` calls within ``horizon_s``), so a
department that recovered stops looking slow once the slow calls have aged out.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass, field

from connectors.resilience import CircuitBreaker, Clock

LATENCY_SAMPLES = 512
LATENCY_HORIZON_S = 300.0


class LatencyWindow:
    """Durations of recent calls, for p50 / p99."""

    def __init__(
        self,
        *,
        size: int = LATENCY_SAMPLES,
        horizon_s: float = LATENCY_HORIZON_S,
        clock: Clock = time.monotonic,
    ) -> None:
        self._samples: deque[tuple[float, float]] = deque(maxlen=size)
        self.size = size
        self.horizon_s = horizon_s
        self._clock = clock

    def add(self, seconds: float) -> None:
        self._samples.append((self._clock(), seconds))

    def percentile(self, q: float) -> float | None:
        """The ``q``-quantile (0 < q ≤ 1, nearest rank) in seconds; ``None`` with no calls."""
        since = self._clock() - self.horizon_s
        recent = sorted(seconds for at, seconds in self._samples if at >= since)
        if not recent:
            return None
        return recent[max(math.ceil(q * len(recent)) - 1, 0)]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


@dataclass
class Health:
    """A department's recent record: last outcomes, latency and the breaker's view."""

    last_success: float | None = None
    last_failure: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    latency: LatencyWindow = field(default_factory=LatencyWindow, repr=False)
    breaker: CircuitBreaker | None = field(default=None, repr=False)

    @property
    def status(self) -> str:
        if self.last_success is None and self.last_failure is None:
            return "unknown"
        return "failing" if self.consecutive_failures else "ok"

    def as_json(self) -> dict[str, object]:
        """The record; each windowed figure names its window: ``errorRate`` and ``calls`` are
        the breaker's (``breakerWindowSeconds``), ``p50Ms``/``p99Ms`` the last
        ``latencyMaxSamples`` calls within ``latencyWindowSeconds``."""
        breaker = self.breaker
        return {
            "status": self.status,
            "lastSuccess": self.last_success,
            "lastFailure": self.last_failure,
            "lastError": self.last_error,
            "consecutiveFailures": self.consecutive_failures,
            "breaker": breaker.state.value if breaker is not None else None,
            "errorRate": round(breaker.error_rate, 4) if breaker is not None else None,
            "calls": breaker.calls if breaker is not None else None,
            "breakerWindowSeconds": breaker.window_s if breaker is not None else None,
            "p50Ms": _ms(self.latency.percentile(0.50)),
            "p99Ms": _ms(self.latency.percentile(0.99)),
            "latencyWindowSeconds": self.latency.horizon_s,
            "latencyMaxSamples": self.latency.size,
        }
