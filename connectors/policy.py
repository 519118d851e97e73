"""A department's policy as data: where it is, how long to wait, how often to retry, when to stop.

The hub builds one per department from ``HUB_<DEPT>_<FIELD>`` environment variables
(``hub.settings.department_policy``); ``connectors.base.Connector`` applies it to every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DepartmentPolicy:
    """Per-department settings, kept as data so the hub can configure them by name."""

    base_url: str
    timeout_s: float = 5.0
    """The budget of one call: waiting for a place, every attempt and the waits between."""
    connect_timeout_s: float = 2.0
    cache_ttl_s: float = 60.0
    cache_size: int = 2048
    max_concurrency: int = 32
    credentials: Mapping[str, str] = field(default_factory=dict)
    read_timeout_s: float = 5.0
    """The longest silence while reading one answer."""
    max_retries: int = 2
    """Retries after the first attempt, for calls that may be repeated."""
    retry_base_s: float = 0.1
    retry_cap_s: float = 1.0
    breaker_window_s: float = 30.0
    breaker_min_calls: int = 20
    breaker_error_rate: float = 0.5
    breaker_open_s: float = 10.0
    breaker_half_open_probes: int = 1
    max_queue_wait_s: float = 1.0
    """How long a call waits for a place when ``max_concurrency`` calls are in flight."""
    stale_if_error_s: float = 300.0
    """How old a cached answer may be and still stand in for one the department failed."""
    app_max_concurrency: int = 0
    """The department's limit of calls in flight per app, kept by all replicas together when
    the hub has a shared state (``connectors.quota``); 0: none."""
    app_calls_per_second: int = 0
    """The department's limit of calls per second per app, likewise; 0: none."""
    naive: bool = False
    """Benchmark baseline only (``HUB_NAIVE``): no caches, no batching, no coalescing of
    concurrent identical calls, so their effect can be measured side by side."""

    def __post_init__(self) -> None:
        if not 0 < self.breaker_error_rate <= 1:
            raise ValueError("breaker_error_rate must be in (0, 1]")
        if min(self.max_concurrency, self.breaker_min_calls, self.breaker_half_open_probes) < 1:
            raise ValueError("max_concurrency, breaker_min_calls and probes must be at least 1")
        if self.app_max_concurrency < 0 or self.app_calls_per_second < 0:
            raise ValueError("app_max_concurrency and app_calls_per_second must not be negative")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")
