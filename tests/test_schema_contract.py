"""The schema is a contract with the front-end teams: checked in, described, reviewed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from schema import build_schema

REPO = Path(__file__).resolve().parent.parent


def test_checked_in_sdl_matches_the_code() -> None:
    checked_in = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert checked_in == build_schema().as_str() + "\n", (
        "schema.graphql is stale: run `ihub schema > schema.graphql` and review the diff"
    )


def test_ihub_schema_check_agrees() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "hub.cli", "schema", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_every_type_and_root_field_is_described() -> None:
    schema = build_schema()._schema
    undocumented = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        if (
            isinstance(type_, (GraphQLObjectType, GraphQLEnumType, GraphQLInputObjectType))
            and not type_.description
        ):
            undocumented.append(name)
    query = schema.query_type
    assert query is not None
    undocumented += [f"Query.{f}" for f, field in query.fields.items() if not field.description]
    assert undocumented == []


def test_the_sdl_is_a_federation_subgraph_whose_entities_are_public() -> None:
    sdl = (REPO / "schema.graphql").read_text(encoding="utf-8")
    assert sdl.startswith(
        'schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"])'
    ), "pinned to 2.9: the newest version both Apollo's and The Guild's composition accept"
    keyed = dict(re.findall(r'^type (\w+) @key\(fields: "([^"]+)"\)', sdl, re.MULTILINE))
    assert keyed == {
        "BankBranch": "bank id",
        "Book": "id",
        "Course": "id",
        "ServiceItem": "code",
    }
    # every entity is reachable without passing a personal root: none is a resident's data
    schema = build_schema()._schema
    assert schema.query_type is not None
    public = _reachable(schema, schema.query_type, skip={"me", "partner", "_entities"})
    assert set(keyed) <= public


def _reachable(schema: GraphQLSchema, root: GraphQLObjectType, skip: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = [get_named_type(f.type) for n, f in root.fields.items() if n not in skip]
    while todo:
        named = todo.pop()
        if named.name in seen or not isinstance(named, GraphQLObjectType):
            continue
        seen.add(named.name)
        todo += [get_named_type(f.type) for f in named.fields.values()]
    return seen
