"""Fuzz run: operations generated from ``schema.graphql`` sent to a running hub over HTTP.

hypothesis-graphql builds queries and mutations from the checked-in SDL (valid ones, and, in a
smaller run, ones with exactly one schema violation); about half of them have their argument
values moved into variables, so variable coercion is fuzzed as well as literals. Each one goes
to the hub anonymously and with a resident token. Whatever comes back must be a JSON GraphQL
answer, never a 5xx, and every error must carry a code from DESIGN.md's vocabulary — and never
``INTERNAL_SERVER_ERROR``, which would mean an unexpected exception behind the mask.

The hub talks to its own set of mocks, so generated mutations (enrolments, loans, bookings)
cannot change the data other tests read; rate limits are lifted for the run. Derandomized:
CI sees the same operations on every run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import graphql
import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from hub.app import create_app
from hub.security.ratelimit import BucketPolicy
from hub.settings import DEV_DEPARTMENTS, Settings, department_policy
from mocks.common.launcher import MockConfig
from mocks.registry import MOCKS
from schema.context import CallerKind
from tests.support import BackgroundMocks, LiveHub

REPO = Path(__file__).resolve().parent.parent
# a subgraph's SDL uses federation's directives without defining them: a gateway knows them
FEDERATION = """directive @link(url: String!, import: [String]) repeatable on SCHEMA
directive @key(fields: String!, resolvable: Boolean = true) repeatable on OBJECT | INTERFACE
"""
SDL = FEDERATION + (REPO / "schema.graphql").read_text(encoding="utf-8")
SCHEMA = graphql.build_schema(SDL)
VOCABULARY = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "NOT_FOUND",
        "RATE_LIMITED",
        "QUERY_TOO_COMPLEX",
        "PERSISTED_QUERY_NOT_FOUND",
        "PERSISTED_QUERY_NOT_ALLOWED",
        "UPSTREAM_UNAVAILABLE",
        "UPSTREAM_TIMEOUT",
        "UPSTREAM_ERROR",
        "INTERNAL_SERVER_ERROR",
    }
)
CHINA = dt.timezone(dt.timedelta(hours=8))
FUZZ_RESIDENT = "R000777"

# the SDL's custom scalars: dates around the mocks' calendar, any date, and text that is none
NEAR = st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2027, 12, 31))
SCALARS = {
    "Date": st.one_of(NEAR, st.dates(), st.text(max_size=12)).map(str).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.sampled_from([dt.UTC, CHINA])).map(dt.datetime.isoformat),
        st.text(max_size=12),
    ).map(nodes.String),
}


def _object(fields: dict[str, str]) -> graphql.ObjectValueNode:
    return nodes.Object(
        [
            graphql.ObjectFieldNode(name=graphql.NameNode(value=name), value=nodes.String(value))
            for name, value in fields.items()
        ]
    )


# a gateway's representations: entities and other types, key fields present or not, any text
REPRESENTATIONS = st.builds(
    lambda typename, keys: _object({"__typename": typename, **keys}),
    st.sampled_from(
        ["Book", "Course", "BankBranch", "ServiceItem", "Me", "LibraryCard", "Query", ""]
    ),
    st.dictionaries(
        st.sampled_from(["id", "bank", "name"]),
        st.one_of(st.sampled_from(["ICBC", "CCB", "YC2026A-0001"]), st.text(max_size=20)),
    ),
)
SCALARS["_Any"] = REPRESENTATIONS
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)


def with_variables(document: graphql.DocumentNode) -> tuple[str, dict[str, Any]]:
    """The operation with every argument value moved into a variable of the argument's type."""
    type_info = graphql.TypeInfo(SCHEMA)
    variables: dict[str, Any] = {}
    definitions: list[graphql.VariableDefinitionNode] = []

    class Hoist(graphql.Visitor):
        def enter_argument(self, node: graphql.ArgumentNode, *_: Any) -> Any:
            argument = type_info.get_argument()
            if argument is None:
                return None
            name = f"v{len(definitions)}"
            variables[name] = graphql.value_from_ast_untyped(node.value)
            variable = graphql.VariableNode(name=graphql.NameNode(value=name))
            type_ = graphql.parse_type(str(argument.type))
            definitions.append(graphql.VariableDefinitionNode(variable=variable, type=type_))
            return dataclasses.replace(node, value=variable)

        def leave_operation_definition(self, node: graphql.OperationDefinitionNode, *_: Any) -> Any:
            return dataclasses.replace(node, variable_definitions=tuple(definitions))

    hoisted = graphql.visit(document, graphql.TypeInfoVisitor(type_info, Hoist()))
    return graphql.print_ast(hoisted), variables


def operations(mode: Mode) -> st.SearchStrategy[tuple[str, dict[str, Any] | None]]:
    """A generated operation, as sent: literal arguments, or the same moved into variables."""
    documents = from_schema(
        SDL, custom_scalars=SCALARS, mode=mode, print_ast=lambda document: document
    )

    def sendable(document: graphql.DocumentNode, hoist: bool) -> tuple[str, dict[str, Any] | None]:
        if hoist and mode is Mode.POSITIVE:
            return with_variables(document)
        return graphql.print_ast(document), None

    return st.builds(sendable, documents, st.booleans())


def check(response: Any, query: str, variables: dict[str, Any] | None, who: str) -> None:
    case = f"{who}: {query} {json.dumps(variables, ensure_ascii=False)}"
    assert response.status_code < 500, f"{response.status_code} for {case}"
    assert "json" in response.headers.get("content-type", ""), case
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), case
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in VOCABULARY, f"unknown code {code!r} for {case}: {error}"
        assert code != "INTERNAL_SERVER_ERROR", f"an unexpected exception for {case}: {error}"


@pytest.fixture(scope="module")
def fuzz_hub(
    tmp_path_factory: pytest.TempPathFactory, make_settings: Callable[..., Settings]
) -> Iterator[LiveHub]:
    """A hub on mocks of its own, with rate limits out of the way."""
    mocks = BackgroundMocks(MOCKS, MockConfig(state_dir=tmp_path_factory.mktemp("fuzz-mocks")))
    environment = {f"HUB_{name.upper()}_URL": url for name, url in mocks.urls.items()}
    for bank in ("icbc", "ccb"):
        keys = mocks.state_dir / "bank" / bank
        environment[f"HUB_{bank.upper()}_APP_PRIVATE_KEY"] = str(keys / "app-private.pem")
        environment[f"HUB_{bank.upper()}_BANK_PUBLIC_KEY"] = str(keys / "bank-public.pem")
    hub = LiveHub(
        create_app(
            make_settings(
                departments={
                    name: department_policy(environment, name) for name in DEV_DEPARTMENTS
                },
                rate_limits={
                    kind: BucketPolicy(kind.value, 1_000_000, 1_000_000.0) for kind in CallerKind
                },
            )
        )
    )
    yield hub
    hub.close()
    mocks.close()


@pytest.fixture(scope="module")
def resident_token(token_for: Callable[..., str]) -> str:
    return token_for(FUZZ_RESIDENT, ttl_s=3600)


@settings(FUZZ, max_examples=500)
@given(operation=operations(Mode.POSITIVE))
def test_generated_operations_never_fail_the_hub(
    fuzz_hub: LiveHub, resident_token: str, operation: tuple[str, dict[str, Any] | None]
) -> None:
    query, variables = operation
    note(f"{query}\nvariables: {variables}")
    check(fuzz_hub.graphql(query, variables), query, variables, "anonymous")
    check(fuzz_hub.graphql(query, variables, token=resident_token), query, variables, "resident")


@settings(FUZZ, max_examples=150)
@given(operation=operations(Mode.NEGATIVE))
def test_operations_with_one_schema_violation_are_refused_as_bad_input(
    fuzz_hub: LiveHub, operation: tuple[str, dict[str, Any] | None]
) -> None:
    query, variables = operation
    note(query)
    response = fuzz_hub.graphql(query, variables)
    check(response, query, variables, "anonymous")
    codes = [e["extensions"]["code"] for e in response.json().get("errors") or []]
    assert codes and set(codes) == {"BAD_USER_INPUT"}, f"{query}: {response.text}"
