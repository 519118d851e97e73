"""Input validation through the endpoint: patterns match the whole value, and bad input is
BAD_USER_INPUT before any department is called."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

OPEN = """mutation Open($input: OpenDoorInput!) {
  openDoor(input: $input) { outcome userErrors { code } } }"""


def test_an_idempotency_key_with_a_trailing_newline_is_refused(
    start_hub: Callable[..., LiveHub], mocks: Any, token_for: Callable[..., str]
) -> None:
    cloud = MockAdmin(mocks.urls["locks"])
    hub = start_hub()
    cloud.reset()
    variables = {"input": {"lockId": "10001", "idempotencyKey": "newline-key-1\n"}}
    body = hub.graphql(OPEN, variables, token=token_for("R000001")).json()
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "idempotencyKey"}
    assert cloud.calls("POST /v3/lock/unlock") == 0


def test_a_persisted_query_hash_with_a_trailing_newline_is_refused(hub: LiveHub) -> None:
    digest = hashlib.sha256(b"{ __typename }").hexdigest() + "\n"
    extension = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    response = hub.client.post("/graphql", json={"extensions": extension})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


LONG = "9" * 100_000
LONG_ID_CASES = [
    ("library", "query($id: ID!) { library { book(id: $id) { title } } }", {"id": LONG}, "id"),
    ("youth", "query($id: ID!) { youthCenter { course(id: $id) { name } } }", {"id": LONG}, "id"),
    (
        "garbage",
        "query($id: ID!) { garbageSorting { article(id: $id) { title } } }",
        {"id": LONG},
        "id",
    ),
    (
        "garbage",
        "query($id: ID!) { garbageSorting { collectionPoints(communityId: $id) { id } } }",
        {"id": LONG},
        "communityId",
    ),
    (
        "garbage",
        "query($q: String!) { garbageSorting { classify(item: $q) { match { name } } } }",
        {"q": LONG},
        "item",
    ),
    (
        "library",
        f'{{ library {{ search(query: "{LONG}") {{ edges {{ node {{ title }} }} }} }} }}',
        None,
        "query",
    ),
    (
        "library",
        'mutation($b: String!) { borrowBook(input: {barcode: $b, idempotencyKey: "long-barcode-1"}) { userErrors { code } } }',
        {"b": LONG},
        "barcode",
    ),
    (
        "locks",
        "mutation($input: OpenDoorInput!) { openDoor(input: $input) { outcome } }",
        {"input": {"lockId": LONG, "idempotencyKey": "long-lock-id-1"}},
        "lockId",
    ),
]


@pytest.mark.parametrize(
    ("department", "query", "variables", "field"),
    LONG_ID_CASES,
    ids=[f"{case[0]}-{case[3]}" for case in LONG_ID_CASES],
)
def test_a_hundred_thousand_character_argument_never_reaches_a_department(
    start_hub: Callable[..., LiveHub],
    mocks: Any,
    token_for: Callable[..., str],
    department: str,
    query: str,
    variables: dict[str, Any] | None,
    field: str,
) -> None:
    hub = start_hub()
    admin = MockAdmin(mocks.urls[department])
    admin.reset()
    body = hub.graphql(query, variables, token=token_for("R000001")).json()
    assert [e["extensions"] for e in body["errors"]] == [
        {"code": "BAD_USER_INPUT", "field": field}
    ], body
    assert admin.total() == 0


@pytest.mark.parametrize("first", [100_000, 51, 0, -1])
def test_first_out_of_bounds_is_bad_user_input_not_too_complex(hub: LiveHub, first: int) -> None:
    query = 'query($n: Int!) { library { search(query: "三体", first: $n) { edges { node { title } } } } }'
    literal = f"{{ youthCenter {{ courses(first: {first}) {{ edges {{ node {{ name }} }} }} }} }}"
    for body in (hub.graphql(query, {"n": first}).json(), hub.graphql(literal).json()):
        assert [e["extensions"] for e in body["errors"]] == [
            {"code": "BAD_USER_INPUT", "field": "first"}
        ], body
