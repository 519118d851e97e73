"""The error vocabulary: what a client sees for each kind of failure."""

from __future__ import annotations

from graphql import GraphQLError

from connectors.errors import UpstreamPayloadError, UpstreamTimeout, UpstreamUnavailable
from schema.errors import Forbidden, to_public


def test_unexpected_exception_is_masked_with_the_request_id() -> None:
    error = GraphQLError("boom: password=hunter2", path=["x"], original_error=KeyError("secret"))
    public = to_public(error, "req-1")
    assert public.extensions == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-1"}
    assert "hunter2" not in public.message and "secret" not in public.message
    assert public.path == ["x"]


def test_upstream_failures_name_the_department_but_not_the_body() -> None:
    cases = {
        UpstreamUnavailable("library", "HTTP 503 <html>stack</html>"): "UPSTREAM_UNAVAILABLE",
        UpstreamTimeout("library", "GET /x timed out"): "UPSTREAM_TIMEOUT",
        UpstreamPayloadError("library", "item.barcode: missing"): "UPSTREAM_ERROR",
    }
    for original, code in cases.items():
        public = to_public(GraphQLError(str(original), path=["a"], original_error=original), "r")
        assert public.extensions == {"code": code, "department": "library"}
        assert "stack" not in public.message and "barcode" not in public.message


def test_typed_refusals_keep_their_code_and_extras() -> None:
    original = Forbidden("Not your card.", field="cardId")
    public = to_public(GraphQLError("x", path=["a"], original_error=original), "r")
    assert public.message == "Not your card."
    assert public.extensions == {"code": "FORBIDDEN", "field": "cardId"}


def test_document_errors_are_bad_user_input() -> None:
    public = to_public(GraphQLError("Syntax Error: Expected Name."), "r")
    assert public.extensions == {"code": "BAD_USER_INPUT"}
    assert public.message == "Syntax Error: Expected Name."
