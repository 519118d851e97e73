"""The resilience policies on their own (injected clocks, no waiting), then in a connector.

Breaker, retry policy and bulkhead are pure; the connector tests run against the real mocks
with the connector's ``sleep`` replaced, so a retried call costs no real backoff.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
import pytest

from connectors.base import DepartmentPolicy
from connectors.errors import UpstreamTimeout, UpstreamUnavailable
from connectors.garbage import GarbageConnector
from connectors.observer import outcome_of, route_of
from connectors.resilience import (
    BreakerState,
    Bulkhead,
    BulkheadFull,
    CircuitBreaker,
    RetryPolicy,
    retry_after_s,
)
from connectors.youth import YouthConnector
from connectors.youth.models import PaymentChannel
from hub.settings import Settings, SettingsError, department_policy
from tests.support import BackgroundMocks, MockAdmin

CATEGORIES = "GET /api/categories"
PAY = "POST /api/v1/applications/{application_id}/pay"
APPLY = "POST /api/v1/applications"


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeSleep:
    """Records the waits asked for and returns at once."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def breaker(
    clock: FakeClock,
    on_change: Callable[[BreakerState], None] | None = None,
    **overrides: float,
) -> CircuitBreaker:
    settings: dict[str, float] = {
        "window_s": 10,
        "min_calls": 4,
        "error_rate": 0.5,
        "open_s": 5,
        "half_open_probes": 1,
    }
    settings.update(overrides)
    return CircuitBreaker(
        window_s=settings["window_s"],
        min_calls=int(settings["min_calls"]),
        error_rate=settings["error_rate"],
        open_s=settings["open_s"],
        half_open_probes=int(settings["half_open_probes"]),
        clock=clock,
        on_change=on_change,
    )


def record(b: CircuitBreaker, *outcomes: bool) -> None:
    for ok in outcomes:
        ticket = b.admit()
        assert ticket is not None
        b.done(ticket, ok)


# -- circuit breaker ---------------------------------------------------------------------


def test_breaker_needs_the_minimum_number_of_calls_before_it_opens() -> None:
    b = breaker(FakeClock())
    record(b, False, False, False)
    assert b.state is BreakerState.CLOSED, "three failures are fewer than min_calls"
    record(b, False)
    assert b.state is BreakerState.OPEN
    assert b.admit() is None


def test_breaker_opens_at_the_error_rate_and_not_below() -> None:
    below = breaker(FakeClock())
    record(below, True, True, True, False)
    assert below.state is BreakerState.CLOSED and below.error_rate == 0.25
    at = breaker(FakeClock())
    record(at, True, True, False, False)
    assert at.state is BreakerState.OPEN


def test_breaker_forgets_outcomes_older_than_its_window() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, False, False, False)
    clock.now += 11
    record(b, False)
    assert b.state is BreakerState.CLOSED and b.calls == 1


def test_open_breaker_half_opens_after_its_interval_and_a_successful_probe_closes_it() -> None:
    # given an open breaker
    clock = FakeClock()
    changes: list[BreakerState] = []
    b = breaker(clock, changes.append, half_open_probes=2)
    record(b, False, False, False, False)
    # when the open interval has passed
    clock.now += 4.9
    assert b.admit() is None
    clock.now += 0.1
    # then two probes go out, a third call still fails fast
    first, second = b.admit(), b.admit()
    assert first is not None and second is not None and b.admit() is None
    assert b.state is BreakerState.HALF_OPEN
    # and the first success closes it, the other probe's late answer changes nothing
    b.done(first, True)
    b.done(second, False)
    assert b.state is BreakerState.CLOSED
    assert changes == [BreakerState.OPEN, BreakerState.HALF_OPEN, BreakerState.CLOSED]


def test_a_failed_probe_opens_the_breaker_for_another_interval() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, False, False, False, False)
    clock.now += 5
    probe = b.admit()
    assert probe is not None
    b.done(probe, False)
    assert b.state is BreakerState.OPEN
    clock.now += 4
    assert b.admit() is None
    clock.now += 1
    assert b.state is BreakerState.HALF_OPEN


def test_a_cancelled_probe_lets_another_probe_go() -> None:
    clock = FakeClock()
    b = breaker(clock)
    record(b, False, False, False, False)
    clock.now += 5
    probe = b.admit()
    assert probe is not None and b.admit() is None
    b.done(probe, None)
    assert b.admit() is not None


def test_answers_of_calls_admitted_while_closed_do_not_count_once_open() -> None:
    clock = FakeClock()
    b = breaker(clock)
    slow = b.admit()
    assert slow is not None
    record(b, False, False, False, False)
    b.done(slow, True)
    assert b.state is BreakerState.OPEN


# -- retry policy --------------------------------------------------------------------------


def test_backoff_is_exponential_capped_and_bounded_in_attempts() -> None:
    highest = RetryPolicy(max_retries=3, base_s=0.1, cap_s=0.3, jitter=lambda low, high: high)
    assert [highest.delay(n, remaining_s=10) for n in range(4)] == [0.1, 0.2, 0.3, None]


def test_full_jitter_draws_between_zero_and_the_backoff() -> None:
    seen: list[tuple[float, float]] = []

    def jitter(low: float, high: float) -> float:
        seen.append((low, high))
        return low

    policy = RetryPolicy(max_retries=2, base_s=0.1, cap_s=1.0, jitter=jitter)
    assert policy.delay(1, remaining_s=10) == 0.0
    assert seen == [(0.0, 0.2)]


def test_retry_after_is_honoured_but_never_past_the_budget() -> None:
    policy = RetryPolicy(max_retries=2, base_s=0.1, cap_s=1.0, jitter=lambda low, high: high)
    assert policy.delay(0, remaining_s=5, retry_after_s=1.5) == 1.5
    assert policy.delay(0, remaining_s=1.0, retry_after_s=1.5) is None
    assert policy.delay(0, remaining_s=0.05) is None


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 11, 27, 8, 0, tzinfo=UTC).timestamp()
    later = format_datetime(datetime(2026, 11, 27, 8, 0, 3, tzinfo=UTC), usegmt=True)
    assert retry_after_s("2") == 2.0
    assert retry_after_s(later, now=lambda: now) == 3.0
    assert retry_after_s("-4") == 0.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


# -- bulkhead ------------------------------------------------------------------------------


async def test_bulkhead_fails_fast_once_the_queue_wait_is_over() -> None:
    bulkhead = Bulkhead(max_concurrency=1, max_queue_wait_s=0.05)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def hold() -> None:
        async with bulkhead.place(remaining_s=5):
            holding.set()
            await release.wait()

    task = asyncio.create_task(hold())
    await holding.wait()
    started = time.perf_counter()
    with pytest.raises(BulkheadFull):
        async with bulkhead.place(remaining_s=5):
            pass
    assert time.perf_counter() - started < 1.0
    assert bulkhead.in_flight == 1
    release.set()
    await task
    async with bulkhead.place(remaining_s=5):
        assert bulkhead.in_flight == 1
    assert bulkhead.in_flight == 0


# -- labels and settings -------------------------------------------------------------------


def test_metric_labels_are_route_patterns_and_outcomes() -> None:
    assert route_of("/api/v1/courses/YC2026A-0001") == "/api/v1/courses/{id}"
    assert route_of("/api/v1/members/Y00031/applications") == "/api/v1/members/{id}/applications"
    assert route_of("/oauth2/token") == "/oauth2/token"
    assert route_of("/opac/api/holding/42") == "/opac/api/holding/{id}"
    assert [outcome_of(s) for s in (200, 304, 404, 429, 503)] == [
        "ok", "ok", "client_error", "rate_limited", "server_error",
    ]  # fmt: skip


def test_every_policy_field_is_read_from_its_environment_variable() -> None:
    env = {
        "HUB_GARBAGE_READ_TIMEOUT_S": "1.5",
        "HUB_GARBAGE_MAX_RETRIES": "4",
        "HUB_GARBAGE_RETRY_BASE_S": "0.05",
        "HUB_GARBAGE_RETRY_CAP_S": "0.4",
        "HUB_GARBAGE_BREAKER_WINDOW_S": "60",
        "HUB_GARBAGE_BREAKER_MIN_CALLS": "10",
        "HUB_GARBAGE_BREAKER_ERROR_RATE": "0.25",
        "HUB_GARBAGE_BREAKER_OPEN_S": "3",
        "HUB_GARBAGE_BREAKER_HALF_OPEN_PROBES": "2",
        "HUB_GARBAGE_MAX_QUEUE_WAIT_S": "0.2",
        "HUB_GARBAGE_STALE_IF_ERROR_S": "900",
    }
    policy = department_policy(env, "garbage")
    assert (policy.read_timeout_s, policy.max_retries) == (1.5, 4)
    assert (policy.retry_base_s, policy.retry_cap_s) == (0.05, 0.4)
    assert (policy.breaker_window_s, policy.breaker_min_calls) == (60, 10)
    assert (policy.breaker_error_rate, policy.breaker_open_s) == (0.25, 3)
    assert (policy.breaker_half_open_probes, policy.max_queue_wait_s) == (2, 0.2)
    assert policy.stale_if_error_s == 900
    assert department_policy({}, "ccb").max_concurrency == 8, "department defaults still hold"


def test_workers_share_a_limit_the_department_counts_per_app() -> None:
    # CCB refuses an app's 11th call in flight: two workers get 4 each, three get 2 each
    two = Settings.from_env({"HUB_WORKERS": "2"})
    assert two.departments["ccb"].max_concurrency == 4
    assert Settings.from_env({"WEB_CONCURRENCY": "3"}).departments["ccb"].max_concurrency == 2
    assert two.departments["library"].max_concurrency == 32, "a per-worker limit is kept"
    # set explicitly, the limit is per worker
    explicit = Settings.from_env({"HUB_WORKERS": "2", "HUB_CCB_MAX_CONCURRENCY": "5"})
    assert explicit.departments["ccb"].max_concurrency == 5
    with pytest.raises(SettingsError):
        Settings.from_env({"HUB_WORKERS": "0"})


@pytest.mark.parametrize(
    "name, value",
    [("BREAKER_ERROR_RATE", "1.5"), ("MAX_RETRIES", "1.5"), ("BREAKER_MIN_CALLS", "0")],
)
def test_unusable_policy_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError):
        department_policy({f"HUB_YOUTH_{name}": value}, "youth")


# -- in a connector, against the mocks -----------------------------------------------------


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


@pytest.fixture
def youth(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["youth"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


async def test_a_failing_read_is_retried_with_backoff_then_fails(
    garbage: MockAdmin, session: aiohttp.ClientSession
) -> None:
    # given a garbage service that is down, and a connector that does not really wait
    policy = DepartmentPolicy(base_url=garbage.url, max_retries=2, retry_cap_s=0.5)
    connector = GarbageConnector(session, policy)
    connector.sleep = sleep = FakeSleep()
    garbage.faults(down=True)
    # when a read goes out
    with pytest.raises(UpstreamUnavailable):
        await connector.categories()
    # then it went out three times, with two jittered waits within the cap between
    assert garbage.calls(CATEGORIES) == 3
    assert len(sleep.waits) == 2 and all(0 <= wait <= 0.5 for wait in sleep.waits)


async def test_retries_never_run_past_the_time_budget(
    garbage: MockAdmin, session: aiohttp.ClientSession
) -> None:
    # given answers that fail after 150 ms each, and a 0.4 s budget per call
    policy = DepartmentPolicy(base_url=garbage.url, timeout_s=0.4, retry_base_s=0.01)
    connector = GarbageConnector(session, policy)
    garbage.faults(down=True, latency_ms=150)
    started = time.perf_counter()
    with pytest.raises((UpstreamUnavailable, UpstreamTimeout)):
        await connector.categories()
    # then the third attempt was cut short by what was left of the budget
    assert time.perf_counter() - started < 0.4 + 0.25
    assert garbage.calls(CATEGORIES) == 3


async def test_a_payment_is_never_repeated_but_an_application_is(
    youth: MockAdmin, session: aiohttp.ClientSession
) -> None:
    connector = YouthConnector(
        session,
        DepartmentPolicy(base_url=youth.url, credentials={"api_key": "dev-youth-key"}),
    )
    connector.sleep = FakeSleep()
    youth.faults(down=True)
    with pytest.raises(UpstreamUnavailable):
        await connector.pay(
            "YA00000001", 100, PaymentChannel.WECHAT, "wx-1", idempotency_key=uuid.uuid4().hex
        )
    with pytest.raises(UpstreamUnavailable):
        await connector.apply("YC2026A-0001", "Y04991", 1, idempotency_key=uuid.uuid4().hex)
    assert youth.calls(PAY) == 1
    assert youth.calls(APPLY) == 3


async def test_an_open_breaker_fails_fast_without_calling_the_department(
    garbage: MockAdmin, session: aiohttp.ClientSession
) -> None:
    # given a breaker that opens after two failed calls
    policy = DepartmentPolicy(
        base_url=garbage.url, max_retries=0, breaker_min_calls=2, breaker_open_s=60
    )
    connector = GarbageConnector(session, policy)
    garbage.faults(down=True)
    for _ in range(2):
        with pytest.raises(UpstreamUnavailable):
            await connector.categories()
    # when the department is back but the breaker is still open
    garbage.clear_faults()
    garbage.reset()
    with pytest.raises(UpstreamUnavailable) as raised:
        await connector.categories()
    # then nothing went out
    assert "circuit open" in raised.value.detail
    assert garbage.total() == 0
    assert connector.health.as_json()["breaker"] == "open"
