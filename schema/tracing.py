"""The operation span: names the HTTP request's span after the GraphQL operation it ran.

The span itself is started by the hub (``hub.tracing.TracingMiddleware``), which continues
the client's ``traceparent``. Once the operation is parsed and executed, this extension
renames it ``"<type> <name>"`` and adds the operation's attributes and outcome. When the
request is not traced the current span does not record, and nothing is built.
"""

from __future__ import annotations

from collections.abc import Iterator

from opentelemetry import trace
from strawberry.extensions import SchemaExtension

from schema.extensions import outcome_of


class OperationSpan(SchemaExtension):
    """Operation type, name, caller kind and outcome on the current (request) span."""

    def on_operation(self) -> Iterator[None]:
        yield
        span = trace.get_current_span()
        if not span.is_recording():
            return
        execution = self.execution_context
        kind = execution.operation_type.value if execution.operation_type else "unknown"
        name = execution.operation_name or "anonymous"
        principal = getattr(execution.context, "principal", None)
        caller = getattr(getattr(principal, "kind", None), "value", "unknown")
        span.update_name(f"{kind} {name}")
        span.set_attributes(
            {
                "graphql.operation.type": kind,
                "graphql.operation.name": name,
                "ihub.caller.kind": str(caller),
                "ihub.outcome": outcome_of(execution),
            }
        )
