"""Depth, alias, token, root-field and cost limits: refused before any resolver runs.

Every refusal is one error with ``extensions.code = "QUERY_TOO_COMPLEX"`` and, for each limit
exceeded, the measured number next to the limit::

    {"code": "QUERY_TOO_COMPLEX", "tokens": 2412, "maxTokens": 2000}
    {"code": "QUERY_TOO_COMPLEX", "depth": 14, "maxDepth": 12, "aliases": 31, "maxAliases": 30}
    {"code": "QUERY_TOO_COMPLEX", "rootFields": 11, "maxRootFields": 10}
    {"code": "QUERY_TOO_COMPLEX", "estimated": 6200, "limit": 5000}

Tokens are counted by the parser (comments included), which stops at the limit; the number
reported is then counted again, up to ten times the limit. The other measures are taken on the
validated operation at the start of execution (``schema.cost``). In ``measure`` mode the cost
is not enforced but reported on every executed operation as ``extensions.cost``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSyntaxError, Lexer, Source, TokenKind
from strawberry.extensions import SchemaExtension

from schema.bounds import argument_refusal
from schema.cost import OperationMeasures, measure_operation

CostMode = Literal["measure", "enforce"]

_PARSER_GAVE_UP = "Document contains more than"


@dataclass(frozen=True)
class QueryLimits:
    """How complex an operation may be. ``cost_mode``: ``measure`` reports, ``enforce`` refuses."""

    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_root_fields: int = 10
    max_cost: int = 5000
    cost_mode: CostMode = "enforce"


def too_complex(**measured: int) -> GraphQLError:
    """The one refusal shape: the measured numbers next to their limits."""
    words = {
        "tokens": "tokens", "depth": "depth", "aliases": "aliases",
        "rootFields": "root fields", "estimated": "estimated cost",
    }  # fmt: skip
    parts = [
        f"{label} {measured[key]} exceeds {measured[_limit_key(key)]}"
        for key, label in words.items()
        if key in measured
    ]
    message = "The operation is too complex: " + "; ".join(parts) + "."
    return GraphQLError(message, extensions={"code": "QUERY_TOO_COMPLEX", **measured})


def _limit_key(key: str) -> str:
    return "limit" if key == "estimated" else "max" + key[0].upper() + key[1:]


class QueryLimiter(SchemaExtension):
    """Apply ``QueryLimits`` to every operation (pass as a factory, one instance a request)."""

    def __init__(
        self,
        limits: QueryLimits | None = None,
        measured: MutableMapping[Hashable, OperationMeasures | None] | None = None,
    ) -> None:
        self.limits = limits or QueryLimits()
        self._cost: int | None = None
        # shared across requests (one per schema): a document is measured once per variables
        self._measured = measured if measured is not None else {}

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        try:
            yield
        except GraphQLSyntaxError as error:
            # raised from the parser cache's hook; without that cache it lands in the result
            refusal = self._token_refusal(error)
            if refusal is None:
                raise
            raise refusal from None
        result = context.result
        if result is not None and result.errors:
            result.errors = [self._token_refusal(error) or error for error in result.errors]

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        key = _measure_key(context.query, context.operation_name, context.variables)
        # a measured key's arguments were checked and found in bounds (a refused one is never
        # measured): the same document and variables need no second walk
        if key is not None and key in self._measured:
            measures = self._measured[key]
        else:
            refusal = argument_refusal(
                context.schema._schema, context.graphql_document, context.variables
            )
            if refusal is not None:  # bad input is the client's, whatever it would cost
                context.result = GraphQLExecutionResult(None, [refusal])
                yield
                return
            measures = measure_operation(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if key is not None:
                self._measured[key] = measures
        if measures is not None:
            if exceeded := self._exceeded(measures):
                # a result set here means graphql-core's execute() is never called, and every
                # other extension still sees the operation end (unlike an exception)
                context.result = GraphQLExecutionResult(None, [too_complex(**exceeded)])
            else:
                self._cost = measures.cost
        yield

    def _exceeded(self, measures: OperationMeasures) -> dict[str, int]:
        limits = self.limits
        exceeded: dict[str, int] = {}
        for key, value, limit in (
            ("depth", measures.depth, limits.max_depth),
            ("aliases", measures.aliases, limits.max_aliases),
            ("rootFields", measures.root_fields, limits.max_root_fields),
        ):
            if value > limit:
                exceeded |= {key: value, _limit_key(key): limit}
        if limits.cost_mode == "enforce" and measures.cost > limits.max_cost:
            exceeded |= {"estimated": measures.cost, "limit": limits.max_cost}
        return exceeded

    def get_results(self) -> dict[str, Any]:
        if self.limits.cost_mode != "measure" or self._cost is None:
            return {}
        return {"cost": {"estimated": self._cost, "limit": self.limits.max_cost}}

    def _token_refusal(self, error: GraphQLError) -> GraphQLError | None:
        if not isinstance(error, GraphQLSyntaxError) or _PARSER_GAVE_UP not in error.message:
            return None
        limit = self.limits.max_tokens
        query = self.execution_context.query or ""
        return too_complex(tokens=count_tokens(query, cap=limit * 10), maxTokens=limit)


def count_tokens(query: str, cap: int) -> int:
    """Lexical tokens and comments in ``query`` (as graphql-core counts them), up to ``cap``."""
    lexer = Lexer(Source(query))
    start = lexer.token
    try:
        for _ in range(cap):
            if lexer.advance().kind is TokenKind.EOF:
                break
    except GraphQLSyntaxError:
        pass  # count what could be read
    count, token = 0, start.next
    while token is not None and token.kind is not TokenKind.EOF and count < cap:
        count, token = count + 1, token.next
    return count


__all__ = ["CostMode", "QueryLimiter", "QueryLimits", "count_tokens", "too_complex"]


def _measure_key(
    query: str | None, operation_name: str | None, variables: Mapping[str, Any] | None
) -> Hashable | None:
    """What a measurement depends on (the schema aside), or ``None`` when it cannot be keyed."""
    if query is None:
        return None
    try:
        encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None
    return (query, operation_name, encoded)
