"""The request envelope of ``/graphql``: whatever a client sends, a GraphQL answer, never a 5xx.

Each case goes to a live hub over HTTP. Malformed envelopes (JSON that is not an object, bytes
that are not UTF-8, nesting deep enough to break a recursive walker, lone surrogates, members of
the wrong type) are request errors: 400, ``BAD_USER_INPUT``, ``X-Request-Id``, no ``data``, and
the connection stays open. A hypothesis run then throws random envelopes at the endpoint.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hub.app import create_app
from hub.security.ratelimit import BucketPolicy
from hub.web.responses import json_bytes
from schema.context import CallerKind
from tests.support import LiveHub

JSON_HEADERS = {"Content-Type": "application/json"}
PREFLIGHT = {"GraphQL-Require-Preflight": "1"}
ECHO = "query($item: String!) { garbageSorting { classify(item: $item) { query } } }"
DEEP = "[" * 1000 + "]" * 1000


def assert_request_error(response: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/")
    assert len(response.headers["X-Request-Id"]) > 0
    assert response.headers.get("connection") != "close"
    body: dict[str, Any] = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    return body


@pytest.mark.parametrize("body", [b"null", b"42", b'"x"', b"true", b"[]"])
def test_json_that_is_not_an_object_is_a_request_error(hub: LiveHub, body: bytes) -> None:
    assert_request_error(hub.client.post("/graphql", content=body, headers=JSON_HEADERS))


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename }", "operationName": "a\xffb"}',
        b'{"query": "{ __typename }\xc3"}',
        b'\xef\xbb\xbf{"query": "{ __typename \xed\xa0\x80 }"}',
    ],
)
def test_bytes_that_are_not_utf8_are_a_request_error(hub: LiveHub, body: bytes) -> None:
    assert_request_error(hub.client.post("/graphql", content=body, headers=JSON_HEADERS))


def test_a_leading_bom_is_still_accepted(hub: LiveHub) -> None:
    body = b'\xef\xbb\xbf{"query": "{ __typename }"}'
    response = hub.client.post("/graphql", content=body, headers=JSON_HEADERS)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("member", ["variables", "extensions", "documentId"])
def test_deep_nesting_in_the_body_is_a_request_error(hub: LiveHub, member: str) -> None:
    body = f'{{"query": "{{ __typename }}", "{member}": {{"x": {DEEP}}}}}'
    response = hub.client.post("/graphql", content=body.encode(), headers=JSON_HEADERS)
    assert_request_error(response)


@pytest.mark.parametrize("member", ["variables", "extensions"])
def test_deep_nesting_in_get_parameters_is_a_request_error(hub: LiveHub, member: str) -> None:
    url = f"/graphql?query={quote('{ __typename }')}&{member}={quote(DEEP)}"
    assert_request_error(hub.client.get(url, headers=PREFLIGHT))


def test_a_lone_surrogate_in_an_echoed_variable_is_a_request_error(hub: LiveHub) -> None:
    body = '{"query": ' + json.dumps(ECHO) + ', "variables": {"item": "\\ud800"}}'
    response = hub.client.post("/graphql", content=body.encode(), headers=JSON_HEADERS)
    assert_request_error(response)


def test_a_lone_surrogate_in_the_operation_name_is_a_request_error(hub: LiveHub) -> None:
    body = b'{"query": "{ __typename }", "operationName": "\\udc00"}'
    assert_request_error(hub.client.post("/graphql", content=body, headers=JSON_HEADERS))


def test_any_answer_encodes_even_a_lone_surrogate() -> None:
    # the last line of defence, should a surrogate ever reach an answer
    assert json.loads(json_bytes({"errors": [{"message": "bad \ud800"}]})) == {
        "errors": [{"message": "bad ?"}]
    }


@pytest.mark.parametrize(
    "body",
    [
        {"query": 42},
        {"query": "{ __typename }", "operationName": ["a"]},
        {"query": "{ __typename }", "variables": "x"},
        {"query": "{ __typename }", "extensions": 1},
        {"query": "{ __typename }", "documentId": {}},
    ],
)
def test_members_of_the_wrong_type_are_a_request_error(hub: LiveHub, body: dict[str, Any]) -> None:
    assert_request_error(hub.client.post("/graphql", json=body))


def test_several_operations_without_an_operation_name_are_a_request_error(hub: LiveHub) -> None:
    document = "query A { __typename } query B { garbageSorting { categories { code } } }"
    body = assert_request_error(hub.graphql(document))
    assert "operationName" in body["errors"][0]["message"]
    chosen = hub.client.post("/graphql", json={"query": document, "operationName": "A"})
    assert chosen.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_answer_405_in_the_graphql_format(hub: LiveHub, method: str) -> None:
    response = hub.client.request(method, "/graphql", json={"query": "{ __typename }"})
    assert_request_error(response, 405)
    assert response.headers["Allow"] == "GET, POST"


@pytest.mark.parametrize("headers", [{}, PREFLIGHT])
def test_a_mutation_over_get_is_405_whatever_the_headers(
    hub: LiveHub, headers: dict[str, str]
) -> None:
    mutation = quote("mutation { __typename }")
    response = hub.client.get(f"/graphql?query={mutation}", headers=headers)
    assert_request_error(response, 405)
    assert response.headers["Allow"] == "POST"


# -- fuzz: random envelopes, through the real endpoint --------------------------------------

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
MEMBERS = st.sampled_from(["query", "operationName", "variables", "extensions", "documentId"])
ENVELOPES = st.dictionaries(MEMBERS | st.text(max_size=8), JSONISH, max_size=5)


def nested(depth: int) -> bytes:
    return b'{"query": "{ __typename }", "variables": {"v": ' + b"[" * depth + b"]" * depth + b"}}"


def mangled(data: bytes, at: int, junk: bytes) -> bytes:
    position = at % (len(data) + 1)
    return data[:position] + junk + data[position:]


BODIES = st.one_of(
    ENVELOPES.map(lambda envelope: json.dumps(envelope).encode()),
    JSONISH.map(lambda value: json.dumps(value).encode()),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=1500).map(nested),
    st.builds(
        mangled,
        ENVELOPES.map(lambda envelope: json.dumps(envelope).encode()),
        st.integers(min_value=0),
        st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\\ud800", b'"\\udfff"', b"\x00"]),
    ),
)
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=300,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def unlimited_hub(make_settings: Callable[..., Any]) -> Iterator[LiveHub]:
    policies = {kind: BucketPolicy(kind.value, 1_000_000, 1_000_000.0) for kind in CallerKind}
    hub = LiveHub(create_app(make_settings(rate_limits=policies)))
    yield hub
    hub.close()


def assert_graphql_answer(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    assert response.headers["X-Request-Id"]
    assert response.headers.get("connection") != "close"
    body = response.json()
    assert isinstance(body, dict) and ("errors" in body or "data" in body)


@settings(FUZZ)
@given(body=BODIES)
def test_fuzz_post_bodies_never_5xx(unlimited_hub: LiveHub, body: bytes) -> None:
    response = unlimited_hub.client.post("/graphql", content=body, headers=JSON_HEADERS)
    assert_graphql_answer(response)


@settings(FUZZ, max_examples=150)
@given(params=st.dictionaries(MEMBERS, JSONISH.map(json.dumps) | st.text(), max_size=5))
def test_fuzz_get_parameters_never_5xx(unlimited_hub: LiveHub, params: dict[str, str]) -> None:
    headers = {"Accept": "application/json", **PREFLIGHT}
    response = unlimited_hub.client.get("/graphql", params=params, headers=headers)
    assert_graphql_answer(response)
