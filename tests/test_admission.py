"""Admission control: a bounded number of executions per process; the rest wait, or get a 503.

``Admission`` on its own first (asyncio, no clock: ``max_wait_s`` 0 refuses at once), then
through a live hub whose one place is held by a ``classify`` the garbage mock answers slowly.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from hub.web.admission import Admission
from tests.support import LiveHub, MockAdmin, until

CLASSIFY = (
    "query ($item: String!) { garbageSorting { classify(item: $item) { category { code } } } }"
)


async def test_places_are_taken_released_and_waited_for_in_order() -> None:
    admission = Admission(max_in_flight=2, max_waiting=10, max_wait_s=60)
    assert await admission.enter() and await admission.enter()
    assert admission.in_flight == 2
    order: list[int] = []

    async def waiter(number: int) -> None:
        assert await admission.enter()
        order.append(number)

    waiters = [asyncio.ensure_future(waiter(n)) for n in range(3)]
    await until(lambda: admission.waiting == 3)
    admission.leave()
    admission.leave()
    await until(lambda: len(order) == 2)
    admission.leave()
    await asyncio.gather(*waiters)
    assert order == [0, 1, 2] and admission.in_flight == 2 and admission.refused == 0


async def test_a_full_queue_or_an_expired_wait_is_refused() -> None:
    full_queue = Admission(max_in_flight=1, max_waiting=0, max_wait_s=60)
    assert await full_queue.enter()
    assert not await full_queue.enter()
    no_wait = Admission(max_in_flight=1, max_waiting=5, max_wait_s=0)
    assert await no_wait.enter()
    assert not await no_wait.enter()
    assert (full_queue.refused, no_wait.refused, no_wait.waiting) == (1, 1, 0)
    # a place given back is free again
    no_wait.leave()
    assert await no_wait.enter()


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        Admission(max_in_flight=0, max_waiting=0, max_wait_s=1)


def wait_for(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` with a deadline (the slow request holds its place for 600 ms)."""
    tick = threading.Event()
    for _ in range(400):
        if condition():
            return
        tick.wait(0.005)
    raise AssertionError("condition never held")


def slow_classify(
    hub: LiveHub, garbage: MockAdmin, item: str
) -> tuple[Future[httpx.Response], Any]:
    """A ``classify`` of an uncached item, held 600 ms by the garbage mock, in a thread."""
    garbage.faults(latency_ms=600)
    admission = hub.server.config.app.state.hub.admission
    pool = ThreadPoolExecutor(1)
    pending = pool.submit(hub.graphql, CLASSIFY, {"item": item})
    pool.shutdown(wait=False)
    wait_for(lambda: admission.in_flight == 1)
    return pending, admission


def test_a_request_over_the_limit_gets_503_rate_limited(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub(max_in_flight=1, max_waiting=0)
    pending, admission = slow_classify(hub, garbage, "电池")
    refused = hub.graphql(CLASSIFY, {"item": "纸箱"})
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "10"
    assert refused.json() == {
        "errors": [
            {
                "message": "The hub is busy: try again shortly.",
                "extensions": {"code": "RATE_LIMITED"},
            }
        ]
    }
    assert refused.headers["X-Request-Id"]
    # health and metrics answer whatever the load
    assert hub.client.get("/healthz").status_code == 200
    metrics = hub.client.get("/metrics").text
    assert "ihub_overload_refusals_total 1.0" in metrics
    answered = pending.result(timeout=30)
    assert answered.status_code == 200 and answered.json()["data"]["garbageSorting"]["classify"]
    assert admission.in_flight == 0
    garbage.clear_faults()
    assert hub.graphql(CLASSIFY, {"item": "纸箱"}).status_code == 200


def test_a_request_waits_for_a_place_when_the_queue_has_room(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub(max_in_flight=1, max_waiting=5)
    pending, admission = slow_classify(hub, garbage, "旧衣服")
    with ThreadPoolExecutor(1) as pool:
        queued = pool.submit(hub.graphql, CLASSIFY, {"item": "玻璃瓶"})
        wait_for(lambda: admission.waiting == 1)
        first, second = pending.result(timeout=30), queued.result(timeout=30)
    assert first.status_code == second.status_code == 200
    assert "errors" not in first.json() and "errors" not in second.json()
    assert (admission.in_flight, admission.waiting, admission.refused) == (0, 0, 0)
