"""What operators see: ``GET /status`` (JSON) and ``GET /metrics`` (Prometheus text format).

``HubObserver`` is the Prometheus-backed ``connectors.observer.Observer``: connectors report
calls, batches, cache events and breaker changes to it without knowing Prometheus. Each app
has its own ``CollectorRegistry`` (never the global default one), so several hubs can run in
one process, as the tests do. GraphQL operations are counted through
``schema.extensions.operation_sink``, set per request by ``OperationMetrics``.

``/status`` carries ``/readyz``'s ``status`` and ``database`` entries, then each department's
record; every windowed figure names its window (``breakerWindowSeconds`` for ``errorRate`` and
``calls``, ``latencyWindowSeconds`` / ``latencyMaxSamples`` for ``p50Ms`` / ``p99Ms``), and the
``cache`` counts are since the hub started (``cacheCountsSince``); ``catalogue`` is the catalogue
copy's sync (items, last success, lag, last error, whether this process holds the refresh
lease); ``process.pid`` names the worker process that answered, ``process.gc`` what
``gc.freeze()`` took out of the cycle collector's way and when (``hub.collector``). It
always answers 200: it is for reading, ``/readyz`` is for load balancers.

Both endpoints belong on a network only operators reach, like ``/readyz``.
"""

from __future__ import annotations

import os
import re
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.base import Connector
from schema.extensions import operation_sink

BREAKER_VALUES: Mapping[str, int] = {"closed": 0, "half_open": 1, "open": 2}
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
GC_PAUSE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100)
MAX_OPERATION_NAMES = 200
"""Distinct operation names kept as labels; clients choose names, so the rest are "other"."""
_OPERATION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class HubObserver:
    """Connector and GraphQL events as Prometheus metrics, in this hub's own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        # the standard process_* (CPU, memory, open fds) and python_info series
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        self.upstream_calls = Counter(
            "ihub_upstream_calls",
            "Upstream call attempts by department, endpoint (route pattern) and outcome.",
            ["department", "endpoint", "outcome"],
            registry=registry,
        )
        self.upstream_seconds = Histogram(
            "ihub_upstream_call_seconds",
            "Duration of upstream call attempts.",
            ["department", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.batch_sizes = Histogram(
            "ihub_upstream_batch_size",
            "Keys per upstream batch call.",
            ["department", "endpoint"],
            buckets=BATCH_BUCKETS,
            registry=registry,
        )
        self.cache_events = Counter(
            "ihub_cache_events",
            "Department cache hits, misses, coalesced calls, revalidations and stale serves.",
            ["department", "event"],
            registry=registry,
        )
        self.breaker_state = Gauge(
            "ihub_breaker_state",
            "Circuit breaker per department: 0 closed, 1 half-open, 2 open.",
            ["department"],
            registry=registry,
        )
        self.operations = Counter(
            "ihub_graphql_operations",
            "GraphQL operations by name and outcome (ok, partial, error).",
            ["operation", "outcome"],
            registry=registry,
        )
        self.rate_limit_refusals = Counter(
            "ihub_rate_limit_refusals",
            "Requests refused by the hub's rate limits, by kind of caller.",
            ["caller"],
            registry=registry,
        )
        self.overload_refusals = Counter(
            "ihub_overload_refusals",
            "GraphQL requests answered 503 because too many were executing and waiting.",
            registry=registry,
        )
        self.catalogue_syncs = Counter(
            "ihub_catalogue_sync",
            "Catalogue copy sync steps (full, changes, guides, terms) by outcome (ok, error).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.gc_pause_seconds = Histogram(
            "ihub_gc_pause_seconds",
            "Cycle collector pauses by generation (every thread waits for one).",
            ["generation"],
            buckets=GC_PAUSE_BUCKETS,
            registry=registry,
        )
        self._gc_pauses = [self.gc_pause_seconds.labels(str(g)) for g in range(3)]
        self.catalogue_sync_seconds = Histogram(
            "ihub_catalogue_sync_seconds",
            "Duration of catalogue copy sync steps.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.catalogue_items = Gauge(
            "ihub_catalogue_items",
            "Active items in this process's catalogue copy (and search index).",
            registry=registry,
        )
        self.catalogue_last_success = Gauge(
            "ihub_catalogue_last_success_timestamp_seconds",
            "When the catalogue copy last agreed with the catalogue (Unix time; 0: never).",
            registry=registry,
        )
        self.catalogue_lag = Gauge(
            "ihub_catalogue_lag_seconds",
            "Seconds since the catalogue copy last agreed with the catalogue.",
            registry=registry,
        )
        self.catalogue_stale = Gauge(
            "ihub_catalogue_stale",
            "1 when the last catalogue refresh failed (reads answer from the copy, degraded).",
            registry=registry,
        )
        self.shared_unavailable = Counter(
            "ihub_shared_state_unavailable",
            "Operations on the shared state (Redis) that could not reach it and fell back to "
            "this process alone, by operation (get, put, bump, lease, quota, ratelimit).",
            ["operation"],
            registry=registry,
        )
        self.shared_up = Gauge(
            "ihub_shared_state_up",
            "0 while the shared state (HUB_REDIS_URL) cannot be reached and this replica "
            "runs on its own; 1 otherwise (also when none is configured).",
            registry=registry,
        )
        self.shared_up.set(1)
        self.offers = Counter(
            "ihub_offers",
            "Proactive offers (主动推送) by item, channel and event (offered, sent, deferred, "
            "delivered, failed, skipped, accepted).",
            ["item", "channel", "event"],
            registry=registry,
        )
        self.cache_tallies: dict[str, Tally[str]] = {}
        # when the counts kept here (cache tallies) began: an ISO 8601 UTC time
        self.started_at = datetime.now(UTC).isoformat(timespec="seconds")
        self._names: set[str] = set()
        # labelled children, looked up once: ``labels()`` takes a lock and checks every value
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Any, *labels: str) -> Any:
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    # -- connectors.observer.Observer ------------------------------------------------------

    def call_finished(self, department: str, endpoint: str, outcome: str, seconds: float) -> None:
        self._child(self.upstream_calls, department, endpoint, outcome).inc()
        if outcome not in ("breaker_open", "bulkhead_full"):
            self._child(self.upstream_seconds, department, endpoint).observe(seconds)

    def batch(self, department: str, endpoint: str, size: int) -> None:
        self._child(self.batch_sizes, department, endpoint).observe(size)

    def cache(self, department: str, event: str, count: int = 1) -> None:
        self._child(self.cache_events, department, event).inc(count)
        self.cache_tallies.setdefault(department, Tally())[event] += count

    def breaker(self, department: str, state: str) -> None:
        self.breaker_state.labels(department).set(BREAKER_VALUES.get(state, -1))

    def offer_event(self, item: str, channel: str, event: str) -> None:
        self._child(self.offers, item, channel, event).inc()

    # -- hub.collector.PauseTimer --------------------------------------------------------------

    def gc_pause(self, generation: int, seconds: float) -> None:
        self._gc_pauses[generation].observe(seconds)

    # -- hub.catalogue.sync.SyncObserver -----------------------------------------------------

    def catalogue_sync(self, kind: str, outcome: str, seconds: float) -> None:
        self._child(self.catalogue_syncs, kind, outcome).inc()
        self._child(self.catalogue_sync_seconds, kind).observe(seconds)

    def catalogue_state(self, status: Mapping[str, Any]) -> None:
        """The gauges, from ``CatalogueCopy.status()`` read when ``/metrics`` is asked."""
        self.catalogue_items.set(float(status.get("items") or 0))
        synced = status.get("lastSuccessAt")
        moment = datetime.fromisoformat(synced).timestamp() if isinstance(synced, str) else 0.0
        self.catalogue_last_success.set(moment)
        self.catalogue_lag.set(float(status.get("lagSeconds") or 0.0))
        self.catalogue_stale.set(1.0 if status.get("stale") else 0.0)

    # -- the hub's own events ----------------------------------------------------------------

    def operation(self, name: str | None, outcome: str) -> None:
        """One GraphQL operation finished (``schema.extensions.OperationSink``)."""
        self._child(self.operations, self._label(name), outcome).inc()

    def rate_limited(self, caller: str) -> None:
        """A request refused by a rate limit (``caller``: anonymous, resident, partner)."""
        self.rate_limit_refusals.labels(caller).inc()

    def shared_state_unavailable(self, operation: str) -> None:
        """An operation on the shared state that fell back to this process alone."""
        self._child(self.shared_unavailable, operation).inc()

    def shared_state(self, up: bool) -> None:
        self.shared_up.set(1 if up else 0)

    def overloaded(self) -> None:
        """A request refused by admission control (``hub.web.admission``)."""
        self.overload_refusals.inc()

    def _label(self, name: str | None) -> str:
        if name is None:
            return "anonymous"
        if name in self._names:
            return name
        if not _OPERATION_NAME.fullmatch(name) or len(self._names) >= MAX_OPERATION_NAMES:
            return "other"
        self._names.add(name)
        return name


class OperatedHub(Protocol):
    """What the operator endpoints read from the hub's state."""

    @property
    def connectors(self) -> Mapping[str, Connector]: ...

    @property
    def observer(self) -> HubObserver: ...


class OperationMetrics:
    """ASGI middleware: GraphQL operations of this request are counted by ``observer``."""

    def __init__(self, app: ASGIApp, *, observer: HubObserver) -> None:
        self.app = app
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = operation_sink.set(self.observer.operation)
        try:
            await self.app(scope, receive, send)
        finally:
            operation_sink.reset(token)


def department_status(connector: Connector, tallies: Mapping[str, int]) -> dict[str, object]:
    """One department for ``/status``: its health, breaker, latency and cache counts."""
    return {**connector.health.as_json(), "cache": dict(sorted(tallies.items()))}


def operator_routes(
    state: OperatedHub,
    *,
    readiness: Callable[[], Awaitable[Mapping[str, object]]],
    catalogue: Callable[[], Mapping[str, Any]] | None = None,
    approvals: Callable[[], Mapping[str, Any]] | None = None,
    offers: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
    collector: Callable[[], Mapping[str, Any]] | None = None,
) -> list[Route]:
    """``/status`` and ``/metrics`` over ``state``'s connectors and observer; ``readiness``
    gives ``/readyz``'s ``status`` and ``database`` entries, ``catalogue`` the catalogue
    copy's sync (``catalogue`` in ``/status``, ``ihub_catalogue_*`` in ``/metrics``)."""

    async def status(request: Request) -> JSONResponse:
        ready = await readiness()
        tallies = state.observer.cache_tallies
        departments = {
            name: department_status(connector, tallies.get(name, Tally()))
            for name, connector in state.connectors.items()
        }
        body = {**ready, "cacheCountsSince": state.observer.started_at, "departments": departments}
        process: dict[str, object] = {"pid": os.getpid()}  # which worker answered
        if collector is not None:
            process["gc"] = dict(collector())  # what the cycle collector skips, and since when
        body["process"] = process
        if catalogue is not None:
            body["catalogue"] = dict(catalogue())
        if approvals is not None:
            body["approvals"] = dict(approvals())  # the review queue's automatic re-check
        if offers is not None:
            body["offers"] = dict(await offers())  # per item: last run, progress, pending
        return JSONResponse(body)

    async def metrics(request: Request) -> Response:
        # the breaker opens and half-opens with time as well as with calls: read it now
        for name, connector in state.connectors.items():
            state.observer.breaker(name, connector.breaker.state.value)
        if catalogue is not None:
            state.observer.catalogue_state(catalogue())
        return Response(generate_latest(state.observer.registry), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/status", status, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
