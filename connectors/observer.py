"""The recorder interface connectors report to, so the hub can export metrics.

Connectors never import a metrics library: they call an ``Observer`` given at construction
(``NULL_OBSERVER`` by default), and the hub supplies one backed by Prometheus. Labels stay
bounded: ``endpoint`` is a route pattern (``GET /api/v1/courses/{id}``), never a raw path.

Outcomes of ``call_finished``: ``ok`` (any status below 400), ``client_error`` (4xx but 429),
``rate_limited`` (429), ``server_error`` (5xx), ``timeout``, ``unreachable``, ``broken_body``,
and, for calls that never went out, ``breaker_open`` and ``bulkhead_full``.
Cache events: ``hit``, ``miss``, ``coalesced``, ``revalidated``, ``stale``.
"""

from __future__ import annotations

import functools
import re
from typing import Protocol


class Observer(Protocol):
    """What a connector reports; every method must be cheap and must not raise."""

    def call_finished(self, department: str, endpoint: str, outcome: str, seconds: float) -> None:
        """One attempt of an upstream call ended (or was refused locally)."""
        ...

    def batch(self, department: str, endpoint: str, size: int) -> None:
        """A batch call went out for ``size`` keys."""
        ...

    def cache(self, department: str, event: str, count: int = 1) -> None:
        """Something happened in one of the department's caches."""
        ...

    def breaker(self, department: str, state: str) -> None:
        """The department's circuit breaker changed state."""
        ...


class NullObserver:
    """Records nothing: connectors built without a hub (tests, scripts)."""

    def call_finished(self, department: str, endpoint: str, outcome: str, seconds: float) -> None:
        pass

    def batch(self, department: str, endpoint: str, size: int) -> None:
        pass

    def cache(self, department: str, event: str, count: int = 1) -> None:
        pass

    def breaker(self, department: str, state: str) -> None:
        pass


NULL_OBSERVER: Observer = NullObserver()


_TWO_DIGITS = re.compile(r"[0-9][^0-9]*[0-9]")


@functools.lru_cache(maxsize=4096)
def route_of(path: str) -> str:
    """The path with its key segments (ids, encoded names) replaced by ``{id}``: a metric label.

    A key is encoded or not ASCII, all digits, or has two digits or more (``YC2026A-0001``,
    ``A0001``); ``v1`` and ``oauth2`` are not. A connector whose keys look otherwise passes
    ``endpoint=`` to ``_request``. Computed on every upstream call, so remembered per path.
    """
    return "/".join("{id}" if _is_key(segment) else segment for segment in path.split("/"))


def _is_key(segment: str) -> bool:
    if "%" in segment or not segment.isascii():
        return True
    return segment.isdigit() or _TWO_DIGITS.search(segment) is not None


def outcome_of(status: int) -> str:
    """The outcome label of an answer with HTTP ``status``."""
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "ok"
