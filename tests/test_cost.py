"""The static cost estimate and the other measures, on parsed documents (no server)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from graphql import GraphQLSchema, parse

from hub.settings import Settings, SettingsError
from schema import build_schema
from schema.context import CallerKind
from schema.cost import OperationMeasures, measure_operation
from schema.limits import count_tokens


@pytest.fixture(scope="module")
def schema() -> GraphQLSchema:
    return build_schema()._schema


def measure(
    schema: GraphQLSchema,
    document: str,
    variables: Mapping[str, Any] | None = None,
    operation: str | None = None,
    **kwargs: Any,
) -> OperationMeasures:
    measured = measure_operation(schema, parse(document), operation, variables, **kwargs)
    assert measured is not None
    return measured


def test_every_field_costs_one_and_a_list_multiplies_by_its_declared_size(
    schema: GraphQLSchema,
) -> None:
    # garbageSorting 1 + categories (1 + 4 declared × 2 fields)
    measured = measure(schema, "{ garbageSorting { categories { code name } } }")
    assert measured == OperationMeasures(depth=3, aliases=0, root_fields=1, cost=10)


def test_a_connection_multiplies_by_first_and_its_edges_add_nothing_more(
    schema: GraphQLSchema,
) -> None:
    # youthCenter 1 + courses (1 + 3 × (edges 1 + 1 × (node 1 + 2)))
    query = "{ youthCenter { courses(first: 3) { edges { node { id name } } } } }"
    assert measure(schema, query).cost == 1 + 1 + 3 * (1 + (1 + 2))


def test_first_defaults_to_the_schemas_default(schema: GraphQLSchema) -> None:
    query = "{ youthCenter { courses { edges { node { id } } } } }"
    assert measure(schema, query).cost == 1 + 1 + 20 * (1 + (1 + 1))


@pytest.mark.parametrize(
    ("declared", "variables", "first"),
    [("Int!", {"n": 7}, 7), ("Int = 4", None, 4), ("Int = 4", {"n": 9}, 9), ("Int", {}, 20)],
)
def test_first_from_a_variable(
    schema: GraphQLSchema, declared: str, variables: dict[str, Any] | None, first: int
) -> None:
    document = f"query($n: {declared}) {{ youthCenter {{ courses(first: $n) {{ edges {{ node {{ id }} }} }} }} }}"
    assert measure(schema, document, variables).cost == 1 + 1 + first * 3


def test_first_on_a_plain_list(schema: GraphQLSchema) -> None:
    query = '{ garbageSorting { items(q: "电池", first: 30) { name aliases } } }'
    assert measure(schema, query).cost == 1 + 1 + 30 * 2


def test_unknown_lists_use_the_global_default(schema: GraphQLSchema) -> None:
    query = "{ me { household { members { id } } } }"
    assert measure(schema, query).cost == 3 + 6  # Household.members is declared as 6
    assert measure(schema, query, sizes={}).cost == 3 + 10


def test_a_fragment_counts_for_every_spread(schema: GraphQLSchema) -> None:
    query = """{ a: garbageSorting { ...Bins } b: garbageSorting { ...Bins } }
      fragment Bins on GarbageSorting { bins: categories { code } }"""
    measured = measure(schema, query)
    assert measured == OperationMeasures(depth=3, aliases=4, root_fields=2, cost=2 * (1 + 1 + 4))


def test_root_fields_through_fragments(schema: GraphQLSchema) -> None:
    query = """query { ...Roots ... on Query { library { book(id: "1") { id } } } }
      fragment Roots on Query { me { name } garbageSorting { categories { code } } }"""
    assert measure(schema, query).root_fields == 3


def test_introspection_costs_nothing_and_adds_no_depth(schema: GraphQLSchema) -> None:
    query = "{ __typename __schema { types { name fields { name type { name } } } } }"
    assert measure(schema, query) == OperationMeasures(depth=0, aliases=0, root_fields=2, cost=0)


def test_the_named_operation_is_measured(schema: GraphQLSchema) -> None:
    document = """query Small { me { name } }
      query Large { garbageSorting { categories { code } } }"""
    assert measure(schema, document, operation="Small").cost == 2
    assert measure(schema, document, operation="Large").cost == 6
    assert measure_operation(schema, parse(document), "Missing") is None


def test_a_realistic_page_is_far_below_the_default_limit(schema: GraphQLSchema) -> None:
    from tests.test_limits import HOME

    measured = measure(schema, HOME)
    assert measured.depth <= 7 and measured.cost < 1000


def test_tokens_are_counted_with_comments() -> None:
    assert count_tokens("{ a # note\n b(x: 1) }", cap=100) == 10
    assert count_tokens("{ a b c d e f }", cap=3) == 3


def test_limits_from_the_environment() -> None:
    settings = Settings.from_env(
        {"HUB_MAX_DEPTH": "8", "HUB_COST_MODE": "measure", "HUB_INTROSPECTION": "resident"}
    )
    assert (settings.max_depth, settings.max_cost, settings.cost_mode) == (8, 5000, "measure")
    assert settings.introspection == (CallerKind.RESIDENT,)
    defaults = Settings.from_env({})
    assert defaults.introspection == (CallerKind.ANONYMOUS, CallerKind.RESIDENT)
    assert Settings.from_env({"HUB_INTROSPECTION": "none"}).introspection == ()
    with pytest.raises(SettingsError):
        Settings.from_env({"HUB_COST_MODE": "audit"})
    with pytest.raises(SettingsError):
        Settings.from_env({"HUB_INTROSPECTION": "anonymous,bank"})
