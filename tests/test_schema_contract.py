"""The schema is a contract with the front-end teams: checked in, described, reviewed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLObjectType

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
