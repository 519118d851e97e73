"""The hub as an Apollo Federation 2 subgraph: which types are entities, and how a gateway
may ask for them.

- ``FEDERATION_VERSION`` is the one both composers accept: Apollo's composition and The
  Guild's (Hive), which stops at 2.9; strawberry's default (2.11) would be refused by Hive.
- Entities are public catalogue records only (a course, a book, a branch); each declares
  ``@key`` and an async ``resolve_reference`` that reads through the request's loaders, so a
  gateway's ``_entities`` batch becomes the same few upstream calls as a list in the hub.
  Nothing under ``me`` or ``partner`` is an entity: personal data is reached only from those
  roots, with the caller's own token.
- ``_entities`` takes at most ``schema.bounds.MAX_REPRESENTATIONS`` representations (the
  bound is checked with every other argument, before any department is called) and costs its
  selection once per representation (``schema.cost``). Each representation must name an
  entity and carry its key fields as strings; anything else is ``BAD_USER_INPUT`` for the
  whole field, and only the key fields reach ``resolve_reference``.
- ``_service { sdl }`` is the whole schema, printed once per schema (strawberry's own field
  prints it on every call): the introspection policy gates it like ``__schema``
  (``schema.introspection``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

import strawberry
from graphql import GraphQLObjectType, GraphQLSchema
from strawberry.federation.schema_directives import Key
from strawberry.types.base import StrawberryObjectDefinition

from schema.bounds import MAX_ID_LENGTH, MAX_REPRESENTATIONS
from schema.context import HubInfo
from schema.errors import BadUserInput

FEDERATION_VERSION: Final = "2.9"

DESCRIPTIONS: Mapping[str, str] = {
    "Query._entities": "联邦网关 · Public entities by key, for a federation gateway; at most "
    f"{MAX_REPRESENTATIONS} representations a call.",
    "_Entity": "联邦实体 · The public entities a gateway may ask for by key.",
    "_Any": "A representation: an entity's `__typename` and key fields, as a gateway sends it.",
    "link__Purpose": "What a linked specification is for (the argument of `@link`).",
}


@strawberry.type(
    name="_Service", description="联邦网关 · This subgraph as a federation gateway composes it."
)
class SubgraphService:
    sdl: str = strawberry.field(
        description="The schema with its federation directives (@link, @key)."
    )


@strawberry.type
class FederationQuery:
    @strawberry.field(
        name="_service",
        description="联邦网关 · "
        "The subgraph's SDL for a federation gateway (introspection rules apply).",
    )
    def service(self, info: HubInfo) -> SubgraphService:
        return SubgraphService(sdl=info.schema.as_str())


def entity_keys(definitions: Iterable[object]) -> dict[str, tuple[str, ...]]:
    """The entities among a schema's type definitions and the fields of their first ``@key``."""
    keys: dict[str, tuple[str, ...]] = {}
    for definition in definitions:
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for directive in definition.directives or ():
            if isinstance(directive, Key):
                keys[definition.name] = tuple(str(directive.fields).split())
                break
    return keys


def checked_representations(
    representations: Sequence[object], keys: Mapping[str, tuple[str, ...]]
) -> list[dict[str, object]]:
    """Each representation reduced to ``__typename`` and its key fields, or a refusal."""
    if len(representations) > MAX_REPRESENTATIONS:  # the bounds check already refused it
        raise BadUserInput(
            f"`representations` may hold at most {MAX_REPRESENTATIONS} items.",
            field="representations",
        )
    checked = []
    for index, representation in enumerate(representations):
        where = f"representations[{index}]"
        if not isinstance(representation, Mapping):
            raise BadUserInput(f"`{where}` must be an object.", field="representations")
        type_name = representation.get("__typename")
        fields = keys.get(type_name) if isinstance(type_name, str) else None
        if fields is None:
            raise BadUserInput(
                f"`{where}.__typename` must be one of {', '.join(sorted(keys))}.",
                field="representations",
            )
        reduced: dict[str, object] = {"__typename": type_name}
        for field in fields:
            value = representation.get(field)
            if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
                raise BadUserInput(
                    f"`{where}.{field}` must be a string of 1 to {MAX_ID_LENGTH} characters.",
                    field="representations",
                )
            reduced[field] = value
        checked.append(reduced)
    return checked


def describe(schema: GraphQLSchema) -> None:
    """Give the federation fields strawberry adds the descriptions every type here has."""
    for path, description in DESCRIPTIONS.items():
        type_name, _, field_name = path.partition(".")
        found = schema.type_map.get(type_name)
        if found is not None and not field_name:
            found.description = description
        elif isinstance(found, GraphQLObjectType) and field_name in found.fields:
            found.fields[field_name].description = description


__all__ = [
    "FEDERATION_VERSION",
    "FederationQuery",
    "checked_representations",
    "describe",
    "entity_keys",
]
