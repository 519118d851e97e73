"""What operators get: /status, /metrics, /readyz, JSON logs, request ids upstream, a clean stop."""

from __future__ import annotations

import gc
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from threading import Event
from typing import Any

import pytest
from aiohttp import web

from connectors.base import DepartmentPolicy
from connectors.health import LATENCY_HORIZON_S, LATENCY_SAMPLES
from connectors.tracing import REQUEST_ID
from hub.logs import JsonFormatter
from hub.settings import Settings
from tests.support import BackgroundLoop, LiveHub, MockAdmin

HOME = """query Home { me { keys { id } } youthCenter { courses(first: 3) { totalCount } }
  garbageSorting { categories { code } } }"""
DEPARTMENTS = {"youth", "library", "icbc", "ccb", "locks", "garbage", "catalogue"} | {
    "population",
    "civil",
    "hrss",
    "credentials",
    "sms",
    "wechat",
}


def samples(metrics: str, family: str) -> dict[str, float]:
    """``{labels: value}`` of one metric family in Prometheus text format."""
    found = {}
    for line in metrics.splitlines():
        match = re.match(rf"^{family}\{{(.*)\}} (\S+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def test_status_reports_each_departments_breaker_latency_and_cache(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    hub.graphql(HOME, token=token_for("R000001"))
    hub.graphql(HOME, token=token_for("R000001"))
    departments = hub.client.get("/status").json()["departments"]
    assert set(departments) == DEPARTMENTS
    youth = departments["youth"]
    assert youth["breaker"] == "closed" and youth["errorRate"] == 0.0
    assert youth["p50Ms"] > 0 and youth["p99Ms"] >= youth["p50Ms"]
    assert youth["lastSuccess"] is not None
    assert departments["garbage"]["cache"]["hit"] >= 1, "the second home screen hit the cache"
    ready = hub.client.get("/readyz").json()["departments"]["locks"]
    assert {"breaker", "errorRate", "p50Ms", "p99Ms", "lastSuccess"} <= set(ready)


def test_status_says_what_the_collector_skips_the_catalogue_copy_included(
    start_hub: Callable[..., LiveHub],
) -> None:
    """Frozen at start-up, and again once the catalogue's first refresh has loaded it: its
    1,200 items, terms and index are no full collection's to walk (hub.collector)."""
    before = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    try:
        hub = start_hub(gc_freeze=True, gc_young_threshold=12_345)
        young = hub.client.get("/status").json()["process"]["gc"]["thresholds"]
    finally:
        gc.set_threshold(*thresholds)  # this process is the tests'
    assert young == [12_345, *thresholds[1:]]
    collector: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = hub.client.get("/status").json()
        collector = status["process"]["gc"]
        if len(collector["frozenAt"]) == 2:
            break
        time.sleep(0.1)
    assert collector["frozenAt"] == ["start-up", "catalogue loaded"]
    assert status["catalogue"]["items"] > 1_000  # loaded before it was frozen
    assert collector["frozen"] > before
    assert len(collector["counts"]) == 3
    unfrozen = start_hub().client.get("/status").json()["process"]["gc"]
    assert unfrozen["frozenAt"] == []
    assert unfrozen["thresholds"] == list(thresholds)  # 0: left as the process had it


def test_metrics_time_the_collectors_pauses_by_generation(hub: LiveHub) -> None:
    def counts() -> dict[str, float]:
        return samples(hub.client.get("/metrics").text, "ihub_gc_pause_seconds_count")

    before = counts()
    assert set(before) == {'generation="0"', 'generation="1"', 'generation="2"'}
    gc.collect()  # a full collection, in this process: the hub's timer sees it
    after = counts()
    # (another may have run on its own meanwhile)
    assert after['generation="2"'] >= before['generation="2"'] + 1
    total = samples(hub.client.get("/metrics").text, "ihub_gc_pause_seconds_sum")
    assert total['generation="2"'] > 0


def test_status_has_readyz_entries_and_names_the_window_of_each_figure(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    hub.graphql(HOME, token=token_for("R000001"))
    status = hub.client.get("/status").json()
    ready = hub.client.get("/readyz").json()
    assert (status["status"], status["database"]) == ("ready", {"status": "ok"})
    assert (status["status"], status["database"]) == (ready["status"], ready["database"])
    assert datetime.fromisoformat(status["cacheCountsSince"]).tzinfo is not None
    for name, department in status["departments"].items():
        breaker_window = DepartmentPolicy(base_url="http://x").breaker_window_s
        assert department["breakerWindowSeconds"] == breaker_window, name
        assert department["latencyWindowSeconds"] == LATENCY_HORIZON_S, name
        assert department["latencyMaxSamples"] == LATENCY_SAMPLES, name
        assert department["breakerWindowSeconds"] != department["latencyWindowSeconds"]
    assert ready["departments"]["youth"]["breakerWindowSeconds"] == breaker_window


def test_status_says_not_ready_when_the_database_is_unreachable(
    start_hub: Callable[..., LiveHub],
) -> None:
    hub = start_hub(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", seed_database=False
    )
    status = hub.client.get("/status")
    assert status.status_code == 200, "/status is for reading; /readyz answers 503"
    assert (status.json()["status"], status.json()["database"]) == (
        "not ready",
        {"status": "unreachable"},
    )
    assert set(status.json()["departments"]) == DEPARTMENTS


def test_metrics_count_calls_by_route_pattern_operations_and_batches(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], garbage: MockAdmin
) -> None:
    # given a hub that served a home screen, then one with the garbage service down
    hub = start_hub()
    hub.graphql(HOME, token=token_for("R000001"))
    hub.graphql('query Classify { garbageSorting { classify(item: "电池") { query } } }')
    garbage.faults(down=True)
    hub.graphql('query Classify { garbageSorting { classify(item: "纸箱") { query } } }')
    # when Prometheus scrapes it
    scraped = hub.client.get("/metrics")
    metrics = scraped.text
    # then calls are labelled by route pattern and outcome, never by raw path
    assert scraped.headers["content-type"].startswith("text/plain")
    calls = samples(metrics, "ihub_upstream_calls_total")
    assert calls['department="youth",endpoint="GET /api/v1/courses",outcome="ok"'] == 1
    assert calls['department="garbage",endpoint="GET /api/items",outcome="server_error"'] == 3
    assert 'department="locks",endpoint="POST /oauth2/token",outcome="ok"' in calls
    assert not re.search(r"YC20|LH0|%[0-9A-F]{2}", metrics), "ids never become labels"
    # and operations by name and outcome, batch sizes, latency, caches and breakers
    operations = samples(metrics, "ihub_graphql_operations_total")
    assert operations == {
        'operation="Home",outcome="ok"': 1,
        'operation="Classify",outcome="ok"': 1,
        'operation="Classify",outcome="partial"': 1,
    }
    batches = samples(metrics, "ihub_upstream_batch_size_count")
    assert batches['department="locks",endpoint="GET /v3/lock/listByIds"'] == 1
    assert samples(metrics, "ihub_upstream_call_seconds_count")
    assert samples(metrics, "ihub_cache_events_total")['department="garbage",event="miss"'] >= 1
    assert samples(metrics, "ihub_breaker_state")['department="garbage"'] == 0
    assert "# TYPE ihub_rate_limit_refusals_total counter" in metrics


def test_each_hub_keeps_its_own_metrics(start_hub: Callable[..., LiveHub]) -> None:
    busy, idle = start_hub(), start_hub()
    busy.graphql("query Cats { garbageSorting { categories { code } } }")
    assert samples(busy.client.get("/metrics").text, "ihub_graphql_operations_total")
    assert not samples(idle.client.get("/metrics").text, "ihub_graphql_operations_total")


# -- request ids and logs ------------------------------------------------------------------


@pytest.fixture
def echo_upstream() -> Iterator[tuple[str, list[str | None]]]:
    """A stand-in garbage service that answers no categories and keeps each X-Request-Id."""
    seen: list[str | None] = []

    async def categories(request: web.Request) -> web.Response:
        seen.append(request.headers.get("X-Request-Id"))
        return web.json_response([])

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_get("/api/categories", categories)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        return runner, f"http://127.0.0.1:{port}"

    loop = BackgroundLoop()
    runner, url = loop.run(start())
    yield url, seen
    loop.run(runner.cleanup())
    loop.close()


def test_the_request_id_goes_on_to_the_departments(
    start_hub: Callable[..., LiveHub],
    make_settings: Callable[..., Settings],
    echo_upstream: tuple[str, list[str | None]],
) -> None:
    url, seen = echo_upstream
    settings = make_settings(env={"HUB_GARBAGE_URL": url})
    hub = start_hub(departments=settings.departments)
    answer = hub.graphql(
        "{ garbageSorting { categories { code } } }", headers={"X-Request-Id": "trace-42"}
    )
    assert answer.json() == {"data": {"garbageSorting": {"categories": []}}}
    assert seen == ["trace-42"]


def test_log_lines_are_json_with_the_request_id() -> None:
    # given a logger writing through the hub's formatter
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ihub.test.logs")
    logger.addHandler(handler)
    logger.propagate = False
    # when it logs while serving a request, and outside one
    token = REQUEST_ID.set("req-7")
    try:
        logger.warning("department %s is failing", "library")
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("unexpected")
    finally:
        REQUEST_ID.reset(token)
    logger.warning("no request")
    logger.removeHandler(handler)
    # then each line is one JSON object, with the request id when there is one
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "department library is failing"
    assert (lines[0]["level"], lines[0]["logger"], lines[0]["request_id"]) == (
        "WARNING",
        "ihub.test.logs",
        "req-7",
    )
    assert "RuntimeError: boom" in lines[1]["exc"]
    assert "request_id" not in lines[2] and lines[2]["ts"].endswith("+00:00")


# -- shutdown ------------------------------------------------------------------------------


def test_shutdown_finishes_in_flight_requests_before_closing_sessions(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    # given a request in flight to a slow department
    hub = start_hub()
    state: Any = hub.server.config.app.state.hub
    sessions = list(state.sessions)
    garbage.faults(latency_ms=400)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(hub.graphql, "{ garbageSorting { categories { code } } }")
        for _ in range(200):
            if garbage.calls("GET /api/categories"):
                break
            Event().wait(0.01)
        # when the server is told to stop (as on SIGTERM)
        hub.server.should_exit = True
        answer = pending.result(timeout=10)
    # then the request was answered in full, and the sessions closed only afterwards
    assert answer.status_code == 200
    assert answer.json()["data"]["garbageSorting"]["categories"]
    hub.close()
    assert sessions and all(session.closed for session in sessions)
