"""The base every department connector stands on: the one place that touches aiohttp.

A connector subclass knows its department's URLs, envelope and quirks; it calls
``self._request(...)`` and gets an ``UpstreamResponse`` back, or one of the exceptions of
``connectors.errors``. Transport failures are translated here, once, and the department's
policy is applied here, once: the time budget, retries, the circuit breaker, the bulkhead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import aiohttp
import orjson
from multidict import CIMultiDict
from opentelemetry.trace import Span

from connectors import tracing
from connectors.errors import (
    ConnectorError,
    UpstreamPayloadError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from connectors.health import Health
from connectors.observer import NULL_OBSERVER, Observer, outcome_of, route_of
from connectors.policy import DepartmentPolicy
from connectors.quota import DepartmentQuota
from connectors.resilience import (
    BreakerState,
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    RetryPolicy,
    retry_after_s,
)
from connectors.shared import Shared
from connectors.singleflight import InFlight
from connectors.tier import SharedTier

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

__all__ = ["Clock", "Connector", "DepartmentPolicy", "Health", "UpstreamResponse"]

logger = logging.getLogger("ihub.connectors")

SAFE_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class UpstreamResponse:
    """A complete answer from a department: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, department: str) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamPayloadError(department, "answer is not valid JSON") from exc


class _FailFast(Exception):
    """A call refused before it went out (breaker open, no place): never retried."""

    def __init__(self, error: ConnectorError) -> None:
        super().__init__(error.detail)
        self.error = error


class Connector:
    """Base class: one instance per department per process, one ``ClientSession`` each.

    ``sleep`` and ``monotonic`` (time budget, breaker) are attributes so tests can replace them;
    ``clock`` is the caches' clock. ``shared`` is what the hub's replicas share (caches, fill
    leases, the department's per-app quota); ``None``: this process alone.
    """

    department: ClassVar[str]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
        shared: Shared | None = None,
    ) -> None:
        self.session = session
        self.policy = policy
        self.shared = shared
        self.clock = clock
        self.observer: Observer = observer or NULL_OBSERVER
        self.sleep: Sleep = asyncio.sleep
        self.monotonic: Clock = time.monotonic
        self._base_url = policy.base_url.rstrip("/")
        self.bulkhead = Bulkhead(policy.max_concurrency, policy.max_queue_wait_s)
        self.app_quota = DepartmentQuota(
            shared,
            self.department,
            max_concurrency=policy.app_max_concurrency,
            calls_per_second=policy.app_calls_per_second,
            max_queue_wait_s=policy.max_queue_wait_s,
            slot_ttl_s=policy.timeout_s + 5.0,
        )
        self.retries = RetryPolicy(
            max_retries=policy.max_retries, base_s=policy.retry_base_s, cap_s=policy.retry_cap_s
        )
        self.breaker = CircuitBreaker(
            window_s=policy.breaker_window_s,
            min_calls=policy.breaker_min_calls,
            error_rate=policy.breaker_error_rate,
            open_s=policy.breaker_open_s,
            half_open_probes=policy.breaker_half_open_probes,
            clock=lambda: self.monotonic(),
            on_change=self._breaker_changed,
        )
        self.health = Health(breaker=self.breaker)
        self.reads_in_flight = InFlight(
            enabled=not policy.naive, observe=lambda event: self.observe_cache(event)
        )
        """Identical GETs at the same moment share one call; every other method forgets them."""

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | bytes | None = None,
        json: object = None,
        retry: bool | None = None,
        endpoint: str | None = None,
        read: bool | None = None,
        share: bool = True,
    ) -> UpstreamResponse:
        """Send one call; 5xx and transport failures raise, other statuses are returned.

        Within ``policy.timeout_s`` in all, the call is repeated on transport failures,
        timeouts, 5xx and 429 (after the backoff, or what ``Retry-After`` asks) when ``retry``
        says it may be: by default GET and HEAD only; a write only with ``retry=True``, which
        a connector passes when the write carries an idempotency key. A 429 still there after
        the retries is returned for the connector to map. ``endpoint`` names the route for
        metrics (default: the path with its ids replaced).

        Identical reads (GET or HEAD without a body) in flight at the same moment share one
        call (``connectors.singleflight``); ``share=False`` for a read whose HTTP form never
        repeats (time-stamped), which the connector shares itself (``share_read``). A write
        (any other method, unless ``read=True`` says it only reads) makes later reads start
        afresh, as it goes out and again once it has answered: nothing read after a write can
        be older than the write.
        """
        safe = method.upper() in SAFE_METHODS
        with tracing.waiting_upstream():
            if not (safe if read is None else read):
                # before and after: no read begun before the write answered is joined after it
                self.reads_in_flight.forget()
                try:
                    return await self._upstream(
                        method, path, params, headers, data, json, retry, endpoint
                    )
                finally:
                    self.reads_in_flight.forget()
            if share and safe and retry is None and data is None and json is None:
                key = (method.upper(), path, _items(params), _items(headers), endpoint)
                return await self.reads_in_flight.run(
                    key,
                    lambda: self._upstream(
                        method, path, params, headers, None, None, None, endpoint
                    ),
                )
            return await self._upstream(method, path, params, headers, data, json, retry, endpoint)

    async def _upstream(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
        json: object,
        retry: bool | None,
        endpoint: str | None,
    ) -> UpstreamResponse:
        """One call with the department's policy applied (see ``_request``), in its own
        span when the request is traced."""
        name = endpoint or f"{method} {route_of(path)}"
        if tracing.TRACER.get() is None:  # not traced: no span to open (the common case)
            return await self._with_policy(
                method, path, params, headers, data, json, retry, name, None
            )
        with tracing.department_span(self.department, method, name) as span:
            if span is None:
                return await self._with_policy(
                    method, path, params, headers, data, json, retry, name, span
                )
            headers = {**(headers or {}), **tracing.trace_headers()}
            response = await self._with_policy(
                method, path, params, headers, data, json, retry, name, span
            )
            span.set_attribute("http.response.status_code", response.status)
            return response

    async def _with_policy(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
        json: object,
        retry: bool | None,
        name: str,
        span: Span | None,
    ) -> UpstreamResponse:
        repeatable = method.upper() in SAFE_METHODS if retry is None else retry
        deadline = self.monotonic() + self.policy.timeout_s
        sent: dict[str, Any] = {
            "params": params,
            "headers": self._with_request_id(headers),
            "data": data,
            "json": json,
        }
        retries = 0
        while True:
            failure: ConnectorError | None = None
            response: UpstreamResponse | None = None
            try:
                response = await self._attempt(method, path, name, deadline, sent)
            except _FailFast as refused:
                raise self._failed(refused.error) from None
            except ConnectorError as exc:
                failure = exc
            asked = None
            if response is not None:
                if response.status < 500 and response.status != 429:
                    self.health.last_success = time.time()
                    self.health.consecutive_failures = 0
                    return response
                asked = retry_after_s(response.headers.get("Retry-After"))
            remaining = deadline - self.monotonic()
            wait = (
                self.retries.delay(retries, remaining_s=remaining, retry_after_s=asked)
                if repeatable
                else None
            )
            if wait is None:
                if failure is not None:
                    raise self._failed(failure)
                assert response is not None
                if response.status >= 500:
                    message = f"{method} {path}: HTTP {response.status}"
                    unavailable = UpstreamUnavailable(
                        self.department, message, status=response.status, retry_after_s=asked
                    )
                    raise self._failed(unavailable)
                return response  # 429: the connector knows what its department means by it
            retries += 1
            if span is not None:
                span.set_attribute("ihub.upstream.retries", retries)
            await self.sleep(wait)

    async def _attempt(
        self, method: str, path: str, endpoint: str, deadline: float, sent: Mapping[str, Any]
    ) -> UpstreamResponse:
        """One attempt through the breaker and the bulkhead, observed and timed."""
        ticket = self.breaker.admit()
        if ticket is None:
            self.observer.call_finished(self.department, endpoint, "breaker_open", 0.0)
            raise _FailFast(UpstreamUnavailable(self.department, f"{endpoint}: circuit open"))
        ok: bool | None = None
        try:
            await self.bulkhead.enter(remaining_s=deadline - self.monotonic())
            try:
                if not self.app_quota.active:  # no per-app limit to keep: no quota to hold
                    ok, response = await self._exchange(method, path, endpoint, deadline, sent)
                    return response
                async with self.app_quota.place(remaining_s=deadline - self.monotonic()):
                    ok, response = await self._exchange(method, path, endpoint, deadline, sent)
                    return response
            finally:
                self.bulkhead.leave()
        except BulkheadFull:
            self.observer.call_finished(self.department, endpoint, "bulkhead_full", 0.0)
            message = f"{endpoint}: too many calls in flight"
            raise _FailFast(UpstreamUnavailable(self.department, message)) from None
        except ConnectorError:
            ok = False
            raise
        finally:
            self.breaker.done(ticket, ok)

    async def _exchange(
        self, method: str, path: str, endpoint: str, deadline: float, sent: Mapping[str, Any]
    ) -> tuple[bool, UpstreamResponse]:
        """The HTTP exchange: ``(counts as a success for the breaker, response)`` or raises."""
        remaining = deadline - self.monotonic()
        if remaining <= 0:
            raise UpstreamTimeout(self.department, f"{method} {path}: budget spent waiting")
        timeout = aiohttp.ClientTimeout(
            total=remaining,
            sock_connect=self.policy.connect_timeout_s,
            sock_read=self.policy.read_timeout_s,
        )
        sent = {
            **sent,
            "headers": self.attempt_headers(method, path, sent["headers"], sent["data"]),
        }
        started = time.perf_counter()
        try:
            async with self.session.request(
                method, self._base_url + path, timeout=timeout, allow_redirects=False, **sent
            ) as answer:
                body = await answer.read()
                response = UpstreamResponse(answer.status, CIMultiDict(answer.headers), body)
        except TimeoutError as exc:
            self._attempted(endpoint, "timeout", started)
            raise UpstreamTimeout(self.department, f"{method} {path} timed out") from exc
        except aiohttp.ClientPayloadError as exc:
            self._attempted(endpoint, "broken_body", started)
            raise UpstreamPayloadError(self.department, f"{method} {path}: broken body") from exc
        except aiohttp.ClientError as exc:
            self._attempted(endpoint, "unreachable", started)
            message = f"{method} {path}: {type(exc).__name__}"
            raise UpstreamUnavailable(self.department, message) from exc
        self._attempted(endpoint, outcome_of(response.status), started)
        return response.status < 500 and response.status != 429, response

    def attempt_headers(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
    ) -> Mapping[str, str] | None:
        """The headers of one attempt: a hook for departments that sign each attempt afresh
        (a nonce and a timestamp must not be resent by a retry). By default, as given."""
        return headers

    def _attempted(self, endpoint: str, outcome: str, started: float) -> None:
        seconds = time.perf_counter() - started
        self.health.latency.add(seconds)
        self.observer.call_finished(self.department, endpoint, outcome, seconds)

    def _with_request_id(self, headers: Mapping[str, str] | None) -> Mapping[str, str] | None:
        request_id = tracing.REQUEST_ID.get()
        if request_id is None:
            return headers
        return {tracing.HEADER: request_id, **(headers or {})}

    def _breaker_changed(self, state: BreakerState) -> None:
        logger.warning("%s: circuit breaker %s", self.department, state.value)
        self.observer.breaker(self.department, state.value)

    def _failed(self, error: ConnectorError) -> ConnectorError:
        self.health.last_failure = time.time()
        self.health.last_error = error.detail
        self.health.consecutive_failures += 1
        return error

    def payload_error(self, message: str) -> UpstreamPayloadError:
        """An answer that broke the department's contract also counts against its health."""
        error = UpstreamPayloadError(self.department, message)
        self._failed(error)
        return error

    async def share_read(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``, shared with an identical read already in flight (same ``key``): for
        reads that ``_request`` cannot match by their HTTP form (signed, time-stamped)."""
        with tracing.waiting_upstream():
            return await self.reads_in_flight.run(key, read)

    def shared_tier(self, name: str) -> SharedTier | None:
        """The shared entries of this department's cache ``name`` (``None`` without a shared
        state, or in naive mode)."""
        if self.shared is None or self.policy.naive:
            return None
        return SharedTier(
            self.shared,
            f"{self.department}:{name}",
            lease_s=self.policy.timeout_s,
            wall_clock=time.time,
        )

    def record_batch(self, endpoint: str, size: int) -> None:
        """Report one batch call of ``size`` keys (for the batch-size metrics)."""
        self.observer.batch(self.department, endpoint, size)

    def observe_cache(self, event: str, count: int = 1) -> None:
        """Report an event (``hit``, ``miss``, ``stale`` …) of one of the department's caches."""
        if count:
            self.observer.cache(self.department, event, count)


def _items(mapping: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(mapping.items())) if mapping else ()
