"""Introspection per caller kind, and no "Did you mean …" for callers who may not introspect.

Refusal: ``__schema``, ``__type`` and federation's ``_service`` (the whole SDL, which is how a
gateway reads the subgraph) are refused in validation with ``extensions.code = "FORBIDDEN"``
(the document is fine, this caller may not run it); ``__typename`` keeps working, and so does
``_entities``: it is data, not the schema.

graphql-core 3.3 can hide suggestions itself (``hide_suggestions`` on ``validate`` and
``execute``), but strawberry 0.341 passes neither through, so the suggestion is cut from the
messages of validation and variable-coercion errors once the operation is done.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from graphql import SKIP, FieldNode, GraphQLError, ValidationRule, VisitorAction
from strawberry.extensions import SchemaExtension

from schema.context import CallerKind

DEFAULT_INTROSPECTION: Mapping[CallerKind, bool] = MappingProxyType(
    {CallerKind.ANONYMOUS: True, CallerKind.RESIDENT: True, CallerKind.PARTNER: False}
)
"""On for developers and residents' front-ends, off for partners' systems."""

_ENTRY_POINTS = frozenset({"__schema", "__type", "_service"})

# graphql-core's did_you_mean() appends " Did you mean …?" at the end of a message
_SUGGESTION = re.compile(r" Did you mean .*\?$", re.DOTALL)


class IntrospectionForbidden(ValidationRule):
    """Refuse ``__schema``, ``__type`` and ``_service`` (not ``__typename``) with ``FORBIDDEN``."""

    def enter_field(self, node: FieldNode, *_args: Any) -> VisitorAction:
        if node.name.value not in _ENTRY_POINTS:
            return None
        self.report_error(
            GraphQLError(
                f"Introspection is not available to this caller ('{node.name.value}').",
                node,
                extensions={"code": "FORBIDDEN"},
            )
        )
        return SKIP  # one error per entry point, not one per field below it


class IntrospectionPolicy(SchemaExtension):
    """Allow introspection and field suggestions only to the caller kinds configured."""

    def __init__(self, allowed: Mapping[CallerKind, bool] = DEFAULT_INTROSPECTION) -> None:
        self.allowed = allowed

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        kind = getattr(principal, "kind", CallerKind.ANONYMOUS)
        if self.allowed.get(kind, False):
            yield
            return
        # a module-level rule class: the validation cache keys on the rules tuple
        context.validation_rules = (*context.validation_rules, IntrospectionForbidden)
        yield
        result = context.result
        if result is not None and result.errors:
            result.errors = [without_suggestion(error) for error in result.errors]


def without_suggestion(error: GraphQLError) -> GraphQLError:
    """The error without graphql-core's "Did you mean …?" (a new error: cached ones are shared)."""
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


__all__ = ["DEFAULT_INTROSPECTION", "IntrospectionForbidden", "IntrospectionPolicy"]
