"""graphql-core's executor, with plain leaf fields read in place, let go of by reference
counting once its answer is built.

Most fields of an answer are a strawberry attribute with no resolver whose type is a scalar or
an enum (``Leaf``: 277 of the schema's fields; 100 of a loans answer's 123, 146 of a home
screen's 217, 703 of the 50-course list's 957). graphql-core gives each the whole of
``execute_field``: a ``Path``, the resolve info (16 fields), strawberry's resolver wrapper,
``complete_value``'s type tests.
``HubExecutionContext.execute_fields`` reads such a field's attribute and coerces it
directly, and hands anything unusual (null, an exception raised or returned, an awaitable, a
value the type cannot represent) to ``execute_field``, which answers it as always: the same
data and the same errors, at the same paths (``tests/test_execution_differential.py`` runs
every known document, the banks' manifests and operations generated from the schema through
both). Resolvers, objects and lists take graphql-core's path.

A resolver strawberry wraps in five frames (the info object, argument conversion, the field
extensions' chain, ``get_result``, the resolver's ``__call__``; for an ``async`` one also a
coroutine of its own around the resolver's) even when there is no argument to convert and no
extension to run. ``lean_resolvers`` finds the fields where that is so (88: ``Loan.book``,
``Key.lock``, ``Lock.online``, ``me`` …) and ``HubSchema`` gives each a resolver that calls
the function directly, with the source as ``self`` and strawberry's ``Info`` where it asks
for one: 3.5–5 µs saved a synchronous field, ~16 µs an asynchronous one in a list.

graphql-core 3.3's executor holds ``async_helpers``, whose ``gather`` and ``track`` are its own
bound methods: a reference cycle. Everything an operation touched — its context (request,
response, loaders, the audit trail), the collected fields, the results of every resolver —
is reachable from the executor, so none of it was freed when the request ended: it all waited
for the cycle collector, ~117 objects in cycles a loans answer and everything they held. The
collector's passes over them were ~12 % of a loans worker's CPU under load, its full passes
15–18 ms each (``python -m bench.gc_pauses``).

``HubExecutionContext`` builds the answer as strawberry's does, then points ``async_helpers``
at helpers that know nothing of the executor (``track`` settles what it is given in the
background, as the executor's would; ``gather`` is the same ``gather_with_cancel``). Nothing
asks for them then: every resolver has finished once the answer is built. An incremental
answer (``@defer`` / ``@stream``) keeps its executor for the payloads still to come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, ClassVar, NamedTuple

import strawberry
from graphql import (
    ExecutionResult,
    GraphQLField,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.execution.collect_fields import GroupedFieldSet
from graphql.pyutils import Path, gather_with_cancel, is_awaitable
from graphql.type.definition import GraphQLResolveInfoHelpers
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.field import StrawberryField

_SETTLING: set[asyncio.Future[Any]] = set()


def _track(values: Sequence[Any]) -> None:
    """Settle awaitables in the background (their errors observed), holding nothing else."""
    awaitables = [value for value in values if is_awaitable(value)]
    if not awaitables:
        return
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop: they can never run; close the coroutines instead
        for awaitable in awaitables:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()
        return
    future = asyncio.gather(*awaitables, return_exceptions=True)
    _SETTLING.add(future)
    future.add_done_callback(_SETTLING.discard)


def _gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
    return gather_with_cancel(*values)


async def _gathered(results: dict[str, Any], awaitable_fields: list[str]) -> dict[str, Any]:
    """``results`` with its awaitable fields' values (``Executor.execute_fields``' own)."""
    if len(awaitable_fields) == 1:
        field = awaitable_fields[0]
        results[field] = await results[field]
    else:
        values = await gather_with_cancel(*(results[field] for field in awaitable_fields))
        results.update(zip(awaitable_fields, values, strict=True))
    return results


DETACHED = GraphQLResolveInfoHelpers(gather=_gather, track=_track)
"""Helpers that refer to no executor."""


class Leaf(NamedTuple):
    """A field answered by reading an attribute of its parent and coercing it: a strawberry
    field with no resolver, arguments or extensions whose type is a scalar or an enum."""

    attribute: str
    coerce: Callable[[Any], Any]
    non_null: bool


def _strawberry_fields(
    schema: GraphQLSchema,
) -> Iterator[tuple[GraphQLObjectType, str, GraphQLField, StrawberryField]]:
    """The object types' fields that strawberry built, with their strawberry definitions and
    no arguments (introspection's types have none of strawberry's)."""
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType):
            continue
        for name, field in type_.fields.items():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            if isinstance(definition, StrawberryField) and not field.args:
                yield type_, name, field, definition


def leaves_of(schema: GraphQLSchema) -> dict[GraphQLObjectType, dict[str, Leaf]]:
    """The schema's plain leaf fields by parent type and field name (``Leaf``)."""
    leaves: dict[GraphQLObjectType, dict[str, Leaf]] = {}
    for type_, name, field, definition in _strawberry_fields(schema):
        if (
            not getattr(field.resolve, "_is_default", False)
            or definition.base_resolver is not None
            or definition.extensions
            or definition.default_resolver is not getattr
        ):
            continue
        output: Any = field.type
        non_null = isinstance(output, GraphQLNonNull)
        if non_null:
            output = output.of_type
        if is_leaf_type(output):
            leaves.setdefault(type_, {})[name] = Leaf(
                definition.python_name, output.coerce_output_value, non_null
            )
    return leaves


Resolve = Callable[..., Any]


class Resolvers(NamedTuple):
    field: GraphQLField
    strawberry: Resolve
    lean: Resolve


def lean_resolvers(schema: strawberry.Schema) -> dict[tuple[str, str], Resolvers]:
    """Fields whose strawberry resolver takes nothing but ``self`` and ``info``, with no field
    extension (permissions are one) and no exception handler, by type and field name: each
    one's resolver as strawberry built it, and one calling the function directly (``_lean``)."""
    converter = schema.schema_converter
    found: dict[tuple[str, str], Resolvers] = {}
    for type_, name, field, definition in _strawberry_fields(schema._schema):
        if (
            field.resolve is None
            or definition.base_resolver is None
            or definition.extensions
            or definition.is_subscription
            or converter._get_field_exception_handlers(definition)
        ):
            continue
        lean = _lean(definition, schema.config.info_class)
        if lean is not None:
            found[type_.name, name] = Resolvers(field, field.resolve, lean)
    return found


def _lean(definition: StrawberryField, info_class: type[Info]) -> Resolve | None:
    """What strawberry's resolver for ``definition`` does when there are no arguments to
    convert and no extension to run: the function, given the source as ``self`` and the info
    by its parameter's name; the same result or exception, through fewer frames."""
    resolver = definition.base_resolver
    assert resolver is not None
    function = resolver.wrapped_func
    if (
        resolver.arguments
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or not callable(function)
    ):
        return None
    takes_self = resolver.self_parameter is not None
    info = resolver.info_parameter
    if info is None:
        if takes_self:
            return lambda source, _info: function(source)
        return lambda _source, _info: function()
    name = info.name

    def with_info(source: Any, raw: GraphQLResolveInfo[Any]) -> Any:
        given = {name: info_class(_raw_info=raw, _field=definition)}
        return function(source, **given) if takes_self else function(**given)

    return with_info


class HubExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, whose cycle is broken once the answer is built.

    A plain leaf field (``Leaf``) is read and coerced in place, without the resolve info,
    path, resolver wrapper and completion graphql-core's ``execute_field`` builds for any
    field; anything out of the ordinary about its value (null, an error, an awaitable, a
    coercion that fails) is handed to ``execute_field``, which answers it as always."""

    leaves: ClassVar[dict[GraphQLObjectType, dict[str, Leaf]]] = {}

    @classmethod
    def for_schema(cls, schema: GraphQLSchema) -> type[HubExecutionContext]:
        """This class with ``schema``'s leaf fields."""
        return type(cls.__name__, (cls,), {"leaves": leaves_of(schema)})

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        manager = self.middleware_manager
        leaves = (
            self.leaves.get(parent_type) if manager is None or not manager.middlewares else None
        )
        if not leaves:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                leaf = leaves.get(field_details_list[0].node.name.value)
                if leaf is not None:
                    try:
                        value = getattr(source_value, leaf.attribute)
                    except Exception:  # read again, and located, by execute_field
                        value = Undefined
                    if value is None and not leaf.non_null:
                        results[response_name] = None
                        continue
                    if (
                        value is not None
                        and value is not Undefined
                        and not isinstance(value, Exception)
                        and not is_awaitable(value)
                    ):
                        try:
                            coerced = leaf.coerce(value)
                        except Exception:  # answered (and located) by execute_field
                            coerced = None
                        if coerced is not None and coerced is not Undefined:
                            results[response_name] = coerced
                            continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return _gathered(results, awaitable_fields)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        if isinstance(response, ExecutionResult):
            self.async_helpers = DETACHED
        return response
