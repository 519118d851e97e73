"""GraphQL over HTTP to the letter: the public audit suite, media types, request errors, CSRF."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from hub.security.ratelimit import BucketPolicy
from hub.settings import Settings
from schema.context import CallerKind
from tests.support import LiveHub, MockAdmin

NODE_DIR = Path(__file__).resolve().parent / "node"
GRAPHQL_RESPONSE = "application/graphql-response+json"
QUERY = "{ garbageSorting { categories { code } } }"


def test_the_graphql_http_audit_suite_passes_without_warnings(
    start_hub: Callable[..., LiveHub],
) -> None:
    node = shutil.which("node")
    assert node and (NODE_DIR / "node_modules" / "graphql-http").exists(), (
        "Node.js and `npm ci --prefix tests/node` are needed (scripts/test does both)"
    )
    # the README's claim is about the default configuration: the suite's generous test limits
    # (conftest) would hide a default that trips inside the audit
    hub = start_hub(rate_limits=Settings().rate_limits)
    done = subprocess.run(
        [node, "audit.mjs", f"{hub.url}/graphql"],
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert len(results) >= 50
    assert [r for r in results if r["status"] != "ok"] == []
    stats = hub.client.get("/metrics").text
    assert 'ihub_rate_limit_refusals_total{caller="anonymous"}' not in stats


def post(hub: LiveHub, body: object, accept: str) -> tuple[int, str, dict[str, object]]:
    response = hub.client.post("/graphql", json=body, headers={"Accept": accept})
    return response.status_code, response.headers["content-type"], response.json()


def test_media_type_is_negotiated(hub: LiveHub) -> None:
    for accept, expected in [
        (GRAPHQL_RESPONSE, GRAPHQL_RESPONSE),
        ("application/json", "application/json"),
        ("*/*", "application/json"),
        (f"application/json;q=0.5, {GRAPHQL_RESPONSE}", GRAPHQL_RESPONSE),
        (f"{GRAPHQL_RESPONSE};q=0.1, application/json", "application/json"),
    ]:
        status, media, body = post(hub, {"query": QUERY}, accept)
        assert (status, media.split(";")[0]) == (200, expected), accept
        assert "data" in body


def test_request_errors_have_no_data_and_are_400_for_the_new_media_type(hub: LiveHub) -> None:
    for body in (
        {"query": "{ garbageSorting {"},  # does not parse
        {"query": "{ garbageSorting { nope } }"},  # does not validate
        {
            "query": "query($item: String!) { garbageSorting { classify(item: $item) { query } } }",
            "variables": {"item": 7},
        },
    ):
        status, _, answer = post(hub, body, GRAPHQL_RESPONSE)
        assert status == 400 and "data" not in answer, body
        status, _, legacy = post(hub, body, "application/json")
        assert status == 200 and "data" not in legacy, body
        assert answer["errors"] == legacy["errors"]


def test_execution_errors_keep_their_data(hub: LiveHub) -> None:
    status, _, body = post(
        hub, {"query": "{ me { name } garbageSorting { categories { code } } }"}, GRAPHQL_RESPONSE
    )
    assert status == 200
    assert body["data"]["me"] is None and body["data"]["garbageSorting"]["categories"]  # type: ignore[index]


def test_unsupported_content_type_is_415(hub: LiveHub, mocks: object) -> None:
    for content_type, data in (
        ("text/plain", QUERY),
        ("application/x-www-form-urlencoded", f"query={quote(QUERY)}"),
    ):
        response = hub.client.post("/graphql", content=data, headers={"Content-Type": content_type})
        assert response.status_code == 415
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_get_with_a_query_needs_a_preflight_header(hub: LiveHub, garbage: MockAdmin) -> None:
    url = f"/graphql?query={quote(QUERY)}"
    refused = hub.client.get(url, headers={"Accept": "application/json"})
    assert refused.status_code == 400 and "Preflight" in refused.json()["errors"][0]["message"]
    assert garbage.total() == 0
    for header in (
        "GraphQL-Require-Preflight",
        "Apollo-Require-Preflight",
        "X-Apollo-Operation-Name",
    ):
        assert hub.client.get(url, headers={header: "1"}).status_code == 200


def test_a_persisted_document_over_get_needs_no_preflight(hub: LiveHub) -> None:
    digest = hashlib.sha256(QUERY.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    hub.client.post("/graphql", json={"query": QUERY, "extensions": extensions})
    response = hub.client.get("/graphql", params={"extensions": json.dumps(extensions)})
    assert response.status_code == 200 and "data" in response.json()


def test_rate_limits_per_principal(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str]
) -> None:
    tight = BucketPolicy("resident", 3, 0.001)
    hub = start_hub(
        rate_limits={kind: BucketPolicy(kind.value, 1000, 100.0) for kind in CallerKind}
        | {CallerKind.RESIDENT: tight}
    )
    first = hub.graphql(QUERY, token=token_for("R000001"))
    assert first.headers["RateLimit-Policy"] == '"resident";q=3;w=3000'
    assert first.headers["RateLimit"].startswith('"resident";r=2;')
    hub.graphql(QUERY, token=token_for("R000001"))
    hub.graphql(QUERY, token=token_for("R000001"))
    refused = hub.graphql(QUERY, token=token_for("R000001"))
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    assert hub.graphql(QUERY, token=token_for("R000002")).status_code == 200, (
        "another resident's own bucket"
    )
