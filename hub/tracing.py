"""OpenTelemetry tracing, off unless configured: one span per GraphQL request, exported by OTLP.

``tracer_provider(settings, exporter)`` builds this hub's own SDK ``TracerProvider`` when an
OTLP endpoint is configured (``HUB_OTLP_ENDPOINT`` or the standard
``OTEL_EXPORTER_OTLP_ENDPOINT``) or a test hands ``create_app`` an exporter; otherwise it
returns ``None``, no provider exists and ``TracingMiddleware`` is not installed, so a request
builds no span at all. The provider is per app, never the process-global one, so several
hubs can run in one process as the tests do.

``TracingMiddleware`` continues an incoming W3C ``traceparent`` (a fresh trace otherwise),
holds the request's server span and puts the tracer where the connectors find it
(``connectors.tracing.TRACER``): each department call is a child span and carries the trace
on. ``schema.tracing.OperationSpan`` names the span after the operation.
"""

from __future__ import annotations

from opentelemetry import propagate
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import SpanKind, Tracer
from starlette.types import ASGIApp, Receive, Scope, Send

from connectors.tracing import TRACER
from hub.settings import Settings
from hub.web.middleware import request_id_of

TRACED_PATHS = frozenset({"/graphql"})


def tracer_provider(
    settings: Settings, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """This hub's provider, or ``None`` when tracing is off (no endpoint, no exporter)."""
    if exporter is None and settings.otlp_endpoint is None:
        return None
    provider = TracerProvider(resource=Resource.create({"service.name": settings.service_name}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if settings.otlp_endpoint is not None:
        # imported here: the exporter pulls in protobuf and requests, needless when off
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(settings.otlp_endpoint)))
    return provider


class TracingMiddleware:
    """ASGI middleware: a server span per GraphQL request, continuing the caller's trace."""

    def __init__(self, app: ASGIApp, *, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in TRACED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name in (b"traceparent", b"tracestate")
        }
        with self.tracer.start_as_current_span(
            "graphql",
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={"ihub.request_id": request_id_of(scope)},
        ):
            token = TRACER.set(self.tracer)
            try:
                await self.app(scope, receive, send)
            finally:
                TRACER.reset(token)
