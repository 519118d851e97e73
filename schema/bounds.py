"""How long an argument may be, and how many items a page: checked on every argument of an
operation at the start of execution, before the cost check and before any department is called.

One place for the bounds: an ``ID`` at most ``MAX_ID_LENGTH`` characters, any other string at
most ``MAX_TEXT_LENGTH``, a ``first`` between 1 and ``MAX_PAGE``, a federation gateway's
``representations`` at most ``MAX_REPRESENTATIONS`` items. A value out of bounds is one
``BAD_USER_INPUT`` error naming the argument (or input field) in ``extensions.field``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    value_from_ast,
    visit,
)
from graphql.pyutils import Undefined

from schema.pagination import MAX_PAGE

MAX_ID_LENGTH = 128
"""Longer than any department's ids (barcodes, course ids, lock ids …) and idempotency keys."""
MAX_TEXT_LENGTH = 500
"""Free text: search queries, notes."""
MAX_REPRESENTATIONS = 100
"""Entities a gateway may ask for in one ``_entities`` call: two pages of a list."""


def argument_refusal(
    schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any] | None
) -> GraphQLError | None:
    """The first argument of ``document`` out of bounds, as a BAD_USER_INPUT error, if any."""
    type_info = TypeInfo(schema)
    checker = _Checker(type_info, dict(variables or {}))
    visit(document, TypeInfoVisitor(type_info, checker))
    return checker.refusal


class _Checker(Visitor):
    def __init__(self, type_info: TypeInfo, variables: dict[str, Any]) -> None:
        super().__init__()
        self._type_info = type_info
        self._variables = variables
        self.refusal: GraphQLError | None = None

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        argument = self._type_info.get_argument()
        if argument is None or self.refusal is not None:
            return
        value = value_from_ast(node.value, argument.type, self._variables)
        if value is Undefined:
            return  # graphql-core's own coercion refuses it
        problem = _problem(node.name.value, argument.type, value)
        if problem is not None:
            field, message = problem
            self.refusal = GraphQLError(
                message, nodes=[node], extensions={"code": "BAD_USER_INPUT", "field": field}
            )


def _problem(name: str, kind: GraphQLInputType, value: Any) -> tuple[str, str] | None:
    if isinstance(kind, GraphQLNonNull):
        kind = kind.of_type
    if value is None:
        return None
    if isinstance(kind, GraphQLList):
        items = value if isinstance(value, list) else [value]
        if name == "representations" and len(items) > MAX_REPRESENTATIONS:
            return name, f"`{name}` may hold at most {MAX_REPRESENTATIONS} items."
        for item in items:
            if (found := _problem(name, kind.of_type, item)) is not None:
                return found
        return None
    if isinstance(kind, GraphQLInputObjectType):
        if not isinstance(value, Mapping):
            return None
        for field_name, field in kind.fields.items():
            # a literal is coerced to the Python names, a variable's value is as sent
            item = value.get(field.out_name or field_name, value.get(field_name))
            if (found := _problem(field_name, field.type, item)) is not None:
                return found
        return None
    if isinstance(value, str) and kind.name in ("ID", "String"):
        limit = MAX_ID_LENGTH if kind.name == "ID" else MAX_TEXT_LENGTH
        if len(value) > limit:
            return name, f"`{name}` may be at most {limit} characters long."
        return None
    if name == "first" and isinstance(value, int) and not 1 <= value <= MAX_PAGE:
        return name, f"`first` must be between 1 and {MAX_PAGE}."
    return None


__all__ = ["MAX_ID_LENGTH", "MAX_REPRESENTATIONS", "MAX_TEXT_LENGTH", "argument_refusal"]
