"""OpenTelemetry tracing end to end: a span per operation, a child per department call, the
trace carried on to the departments, an incoming ``traceparent`` continued, trace ids in the
logs; and with tracing off, nothing at all.

The spans are caught by the SDK's ``InMemorySpanExporter``, handed to ``create_app``. The hub
is closed before they are read: its shutdown flushes the provider, so every span has ended.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator

import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import ProxyTracerProvider, SpanKind, StatusCode

from hub.app import create_app
from hub.logs import JsonFormatter
from hub.settings import Settings
from hub.tracing import TracingMiddleware
from tests.support import BackgroundLoop, BackgroundMocks, LiveHub, MockAdmin

BOTH = """query Both { garbageSorting { classify(item: "电池") { match { name } } }
  library { search(query: "中国", by: TITLE, first: 5) { totalCount } } }"""
INCOMING_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING = f"00-{INCOMING_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture
def admins(mocks: BackgroundMocks) -> Iterator[dict[str, MockAdmin]]:
    found = {name: MockAdmin(mocks.urls[name]) for name in ("garbage", "library")}
    for admin in found.values():
        admin.clear_faults()
        admin.reset()
    yield found
    for admin in found.values():
        admin.clear_faults()


def traced(
    make_settings: Callable[..., Settings], run: Callable[[LiveHub], None]
) -> list[ReadableSpan]:
    """Spans of what ``run`` does against a fresh, traced hub, read once it has stopped."""
    exporter = InMemorySpanExporter()
    hub = LiveHub(create_app(make_settings(), span_exporter=exporter))
    try:
        run(hub)
    finally:
        hub.close()
    return list(exporter.get_finished_spans())


def test_one_operation_span_with_a_child_per_department_call_in_one_trace(
    make_settings: Callable[..., Settings], admins: dict[str, MockAdmin]
) -> None:
    seen: dict[str, object] = {}

    def run(hub: LiveHub) -> None:
        answer = hub.graphql(BOTH, headers={"X-Request-Id": "req-trace-1"})
        assert "errors" not in answer.json(), answer.json()
        seen.update({name: admin.stats() for name, admin in admins.items()})

    spans = traced(make_settings, run)
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert len(servers) == 1
    operation = servers[0]
    assert operation.name == "query Both"
    assert operation.attributes is not None
    assert dict(operation.attributes) == {
        "ihub.request_id": "req-trace-1",
        "graphql.operation.type": "query",
        "graphql.operation.name": "Both",
        "ihub.caller.kind": "anonymous",
        "ihub.outcome": "ok",
    }
    assert operation.parent is None  # no traceparent came in: a new trace
    trace_id = operation.context.trace_id
    calls = [s for s in spans if s.kind is SpanKind.CLIENT]
    assert {s.context.trace_id for s in spans} == {trace_id}
    assert all(
        s.parent is not None and s.parent.span_id == operation.context.span_id for s in calls
    )
    # one child span per call each department received
    for name, stats in seen.items():
        assert isinstance(stats, dict)
        mine = [s for s in calls if s.attributes and s.attributes["ihub.department"] == name]
        assert len(mine) == stats["total"] >= 1, (name, stats)
        for span in mine:
            assert span.attributes is not None
            assert span.attributes["http.response.status_code"] == 200
            assert span.attributes["ihub.upstream.retries"] == 0
            assert "电池" not in str(span.attributes)  # the route pattern, never the value
        # the department got the trace, next to X-Request-Id
        traceparent = stats["last_traceparent"]
        assert isinstance(traceparent, str)
        assert traceparent.split("-")[1] == format(trace_id, "032x")
        assert traceparent.split("-")[2] in {format(s.context.span_id, "016x") for s in mine}


def test_an_incoming_traceparent_is_continued(
    make_settings: Callable[..., Settings], admins: dict[str, MockAdmin]
) -> None:
    carried: list[object] = []

    def run(hub: LiveHub) -> None:
        answer = hub.graphql(BOTH, headers={"traceparent": INCOMING})
        assert "errors" not in answer.json()
        carried.append(admins["garbage"].stats()["last_traceparent"])

    spans = traced(make_settings, run)
    operation = next(s for s in spans if s.kind is SpanKind.SERVER)
    assert format(operation.context.trace_id, "032x") == INCOMING_TRACE
    assert operation.parent is not None and operation.parent.is_remote
    assert format(operation.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert {format(s.context.trace_id, "032x") for s in spans} == {INCOMING_TRACE}
    assert isinstance(carried[0], str) and INCOMING_TRACE in carried[0]


def test_tracing_is_off_by_default_and_sends_no_traceparent(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    settings = Settings.from_env({})
    assert settings.otlp_endpoint is None
    hub = start_hub()
    answer = hub.graphql(BOTH, headers={"traceparent": INCOMING})
    assert "errors" not in answer.json()
    for admin in admins.values():
        assert admin.total() >= 1 and admin.stats()["last_traceparent"] is None
    app = create_app(settings)
    assert not any(m.cls is TracingMiddleware for m in app.user_middleware)
    # no SDK provider anywhere in the process: the API's default one
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)


def test_the_otlp_endpoint_comes_from_the_hub_or_the_standard_variable() -> None:
    assert Settings.from_env({"HUB_OTLP_ENDPOINT": "http://c:4318/v1/traces"}).otlp_endpoint == (
        "http://c:4318/v1/traces"
    )
    standard = Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"})
    assert standard.otlp_endpoint == "http://collector:4318/v1/traces"
    app = create_app(standard)
    assert any(m.cls is TracingMiddleware for m in app.user_middleware)


def test_a_log_line_written_while_serving_a_traced_request_carries_its_trace(
    make_settings: Callable[..., Settings], admins: dict[str, MockAdmin]
) -> None:
    # given a garbage breaker that opens on the first failure, and the garbage mock down
    env = {"HUB_GARBAGE_BREAKER_MIN_CALLS": "1", "HUB_GARBAGE_MAX_RETRIES": "0"}
    departments = make_settings(env=env).departments
    admins["garbage"].faults(down=True)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ihub.connectors")
    logger.addHandler(handler)
    exporter = InMemorySpanExporter()
    hub = LiveHub(create_app(make_settings(departments=departments), span_exporter=exporter))
    try:
        # when a request fails there, the connector logs the breaker opening
        hub.graphql('{ garbageSorting { classify(item: "电池") { match { name } } } }')
    finally:
        hub.close()
        logger.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    opened = [line for line in lines if line["message"] == "garbage: circuit breaker open"]
    assert len(opened) == 1
    # then the line names the request's trace and the department call's span
    calls = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]
    assert opened[0]["trace_id"] == format(calls[0].context.trace_id, "032x")
    assert opened[0]["span_id"] in {format(s.context.span_id, "016x") for s in calls}
    assert calls[0].status.status_code is StatusCode.ERROR  # the failed call says so


def test_log_lines_inside_a_span_carry_its_trace_and_span_ids() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("ihub.test.tracing")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with provider.get_tracer("test").start_as_current_span("op") as span:
            logger.warning("inside")
        logger.warning("outside")
    finally:
        logger.removeHandler(handler)
    inside, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    context = span.get_span_context()
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert "trace_id" not in outside and "span_id" not in outside


def test_metrics_include_the_standard_process_metrics(hub: LiveHub) -> None:
    metrics = hub.client.get("/metrics").text
    assert "process_cpu_seconds_total" in metrics
    assert "process_resident_memory_bytes" in metrics
    assert "python_info" in metrics


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """A stand-in OTLP/HTTP collector keeping each export request it receives."""
    received: list[ExportTraceServiceRequest] = []

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        received.append(ExportTraceServiceRequest.FromString(await request.read()))
        return web.Response(body=b"", content_type="application/x-protobuf")

    async def start() -> tuple[web.AppRunner, str]:
        app = web.Application()
        app.router.add_post("/v1/traces", traces)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"

    loop = BackgroundLoop()
    runner, url = loop.run(start())
    yield url, received
    loop.run(runner.cleanup())
    loop.close()


def test_spans_are_exported_by_otlp_to_the_configured_collector(
    make_settings: Callable[..., Settings],
    admins: dict[str, MockAdmin],
    collector: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    url, received = collector
    settings = make_settings(otlp_endpoint=f"{url}/v1/traces", service_name="ihub-test")
    hub = LiveHub(create_app(settings))
    try:
        assert "errors" not in hub.graphql(BOTH).json()
    finally:
        hub.close()  # the provider's shutdown flushes the batch
    spans = [
        (resource.resource, span)
        for export in received
        for resource in export.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    names = [span.name for _, span in spans]
    assert names.count("query Both") == 1 and len(names) >= 3
    assert {span.trace_id for _, span in spans} == {spans[0][1].trace_id}
    service = {a.key: a.value.string_value for r, _ in spans for a in r.attributes}
    assert service["service.name"] == "ihub-test"
