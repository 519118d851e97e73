"""Input validation through the endpoint: patterns match the whole value, and bad input is
BAD_USER_INPUT before any department is called."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

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
