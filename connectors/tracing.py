"""What the hub tells departments and operators about the request being served.

- ``REQUEST_ID``: the request's id, passed on to departments as ``X-Request-Id``. The hub
  sets it per request (``hub.web.middleware.RequestIdMiddleware``); tasks started while serving
  it inherit the value, so ``Connector._request`` can send it upstream and a department's
  logs can be joined with the hub's.
- ``UPSTREAM``: the moments the request spent waiting for a department. Every connector call
  (and every wait for a call another request started) is one interval; their union is the
  time some department held the request up, and the rest of its time is the hub's own
  (reported as ``Server-Timing``, ``hub.web.middleware.ServerTimingMiddleware``).

- ``TRACER``: the OpenTelemetry tracer of the hub serving the request, set only when tracing
  is on (``hub.tracing``). ``department_span`` makes a child span per department call under
  it and ``trace_headers`` carries the trace on (W3C ``traceparent``); with no tracer neither
  builds anything.

All are unset outside a request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from opentelemetry import propagate
from opentelemetry.trace import Span, SpanKind, Tracer

REQUEST_ID: ContextVar[str | None] = ContextVar("ihub_request_id", default=None)
HEADER = "X-Request-Id"


class Waits:
    """The intervals (``time.perf_counter()`` seconds) a request waited for something."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []

    def union_s(self) -> float:
        """Seconds during which at least one wait was going on (overlaps counted once)."""
        total, reached = 0.0, float("-inf")
        for start, end in sorted(self.intervals):
            if end > reached:
                total += end - max(start, reached)
                reached = end
        return total


UPSTREAM: ContextVar[Waits | None] = ContextVar("ihub_upstream_waits", default=None)


def waiting_upstream() -> AbstractContextManager[None]:
    """Count the block as time the current request waits for a department."""
    return waiting(UPSTREAM)


def waiting(kind: ContextVar[Waits | None]) -> AbstractContextManager[None]:
    """Count the block as time the current request waits for ``kind`` (when it is counted)."""
    return _Waiting(kind)


class _Waiting:
    """``waiting``'s context manager: a class, not a generator, since every upstream call and
    every database statement enters one (a generator-based one cost about 2 µs each time)."""

    __slots__ = ("_kind", "_started", "_waits")

    def __init__(self, kind: ContextVar[Waits | None]) -> None:
        self._kind = kind

    def __enter__(self) -> None:
        self._waits = waits = self._kind.get()
        if waits is not None:
            self._started = time.perf_counter()

    def __exit__(self, *exc_info: object) -> None:
        waits = self._waits
        if waits is not None:
            waits.intervals.append((self._started, time.perf_counter()))


TRACER: ContextVar[Tracer | None] = ContextVar("ihub_tracer", default=None)


@contextmanager
def department_span(department: str, method: str, endpoint: str) -> Iterator[Span | None]:
    """A client span for one department call, or ``None`` when the request is not traced.

    Attributes name the route pattern (``endpoint``), never the concrete path: ids in a
    path are personal."""
    tracer = TRACER.get()
    if tracer is None:
        yield None
        return
    attributes: dict[str, str | int] = {
        "ihub.department": department,
        "http.request.method": method.upper(),
        "http.route": endpoint.split(" ", 1)[-1],
        "ihub.upstream.retries": 0,
    }
    with tracer.start_as_current_span(
        f"{department} {endpoint}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span, for a department."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier
