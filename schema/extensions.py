"""Schema extensions that apply the hub's GraphQL policies to every operation."""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from schema.errors import to_public


class ErrorVocabulary(SchemaExtension):
    """Rewrite every error into the vocabulary of DESIGN.md before it leaves the schema."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        context = self.execution_context.context
        partial = getattr(context, "partial_errors", None)
        if result is not None and partial:
            result.errors = [*(result.errors or []), *partial]
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        request_id = getattr(context, "request_id", "-")
        result.errors = [to_public(error, request_id) for error in errors]
