"""Schema extensions that apply the hub's GraphQL policies to every operation."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document
from strawberry.types import ExecutionContext

from connectors.degradation import StaleServe, collecting, oldest_per_department
from schema.errors import forget_tracebacks, to_public, upstream_code

OperationSink = Callable[[str | None, str], None]
"""Called once per operation with its name (``None`` when anonymous) and its outcome."""

operation_sink: ContextVar[OperationSink | None] = ContextVar("ihub_operation_sink", default=None)
"""Set per request by whoever counts operations (the hub's metrics); unset, nothing is told."""


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
        result.errors = one_per_failing_department([to_public(e, request_id) for e in errors])
        # last of the extensions to see them, after the unexpected ones were logged
        forget_tracebacks(errors)


_FAILURES = frozenset({"UPSTREAM_UNAVAILABLE", "UPSTREAM_TIMEOUT", "UPSTREAM_ERROR"})


def one_per_failing_department(errors: list[GraphQLError]) -> list[GraphQLError]:
    """The first failure of each department only: an outage nulls every field it feeds, but is
    one error (the fields stay null in ``data``). Refusals and other errors are all kept."""
    failed: set[object] = set()
    kept: list[GraphQLError] = []
    for error in errors:
        extensions = error.extensions or {}
        if extensions.get("code") in _FAILURES and "department" in extensions:
            if extensions["department"] in failed:
                continue
            failed.add(extensions["department"])
        kept.append(error)
    return kept


class Degradation(SchemaExtension):
    """Tell the client which departments answered from cache, in ``extensions.degraded``.

    ``[{"department", "ageSeconds", "reason"}]``, one entry per department (its oldest stale
    answer), ``reason`` being the error code the failure would otherwise have produced.
    """

    def __init__(self, *, execution_context: ExecutionContext | None = None) -> None:
        super().__init__(execution_context=execution_context)
        self._serves: list[StaleServe] = []

    def on_operation(self) -> Iterator[None]:
        with collecting() as serves:
            self._serves = serves
            yield

    def get_results(self) -> dict[str, Any]:
        worst = oldest_per_department(self._serves)
        if not worst:
            return {}
        return {
            "degraded": [
                {
                    "department": serve.department,
                    "ageSeconds": round(serve.age_s, 1),
                    "reason": upstream_code(serve.error),
                }
                for serve in worst
            ]
        }


class OperationOutcome(SchemaExtension):
    """Report each operation's name and outcome (``ok``, ``partial``, ``error``) to the sink."""

    def on_operation(self) -> Iterator[None]:
        yield
        sink = operation_sink.get()
        if sink is None:
            return
        sink(self.execution_context.operation_name, outcome_of(self.execution_context))


def outcome_of(execution: ExecutionContext) -> str:
    """``ok``, ``partial`` (data with errors) or ``error`` (no data) for a finished operation."""
    result = execution.result
    partial = getattr(execution.context, "partial_errors", None)
    if result is None or result.data is None:
        return "error"
    if result.errors or partial:
        return "partial"
    return "ok"


class ValidationMemo(SchemaExtension):
    """Strawberry's ``ValidationCache``, with the cache belonging to one schema.

    Strawberry's lives at module level, keyed by the schema among the rest, so every schema a
    process builds stays alive through its entries: a test run that starts hundreds of hubs
    kept hundreds of type graphs, and the garbage collector's passes over them grew until
    requests timed out. ``build_schema`` hands each schema a cache of its own.

    Keyed by the query text, whose hash ``str`` keeps, rather than the document, whose hash
    graphql-core computes over its whole tree at each lookup (two a request: ~0.5 % of a home
    screen's CPU);
    an entry answers only the very document it was made for (the parser cache's)."""

    def __init__(
        self, memo: MutableMapping[Hashable, tuple[DocumentNode, list[GraphQLError]]]
    ) -> None:
        self._memo = memo

    def on_validate(self) -> Iterator[None]:
        execution = self.execution_context
        document = execution.graphql_document
        assert document is not None  # validation follows a parse
        rules = execution.validation_rules
        key = (execution.query if execution.query is not None else document, tuple(rules))
        known = self._memo.get(key)
        if known is not None and known[0] is document:
            errors = known[1]
        else:
            errors = validate_document(execution.schema._schema, document, rules)
            self._memo[key] = (document, errors)
        execution.pre_execution_errors = errors
        yield
