"""The hub's HTTP surface: health, readiness, GET queries, request ids, bad requests."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from tests.support import LiveHub, MockAdmin


def test_healthz_answers_without_touching_anything(hub: LiveHub) -> None:
    response = hub.client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_each_department(hub: LiveHub, garbage: MockAdmin) -> None:
    hub.graphql("{ garbageSorting { categories { code } } }")
    body = hub.client.get("/readyz").json()
    assert body["status"] == "ready"
    assert body["database"] == {"status": "ok"}
    assert body["departments"]["garbage"]["status"] == "ok"


def test_readyz_shows_a_failing_department_but_stays_ready(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    hub = start_hub()
    garbage.faults(down=True)
    hub.graphql('{ garbageSorting { classify(item: "电池") { query } } }')
    response = hub.client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["departments"]["garbage"]["status"] == "failing"


def test_readyz_is_503_when_the_database_is_unreachable(start_hub: Callable[..., LiveHub]) -> None:
    hub = start_hub(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", seed_database=False
    )
    response = hub.client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == {"status": "unreachable"}


def test_queries_work_over_get_with_a_preflight_header(hub: LiveHub) -> None:
    query = quote("{ garbageSorting { categories { code } } }")
    headers = {"Accept": "application/json", "GraphQL-Require-Preflight": "1"}
    response = hub.client.get(f"/graphql?query={query}", headers=headers)
    assert response.status_code == 200
    assert len(response.json()["data"]["garbageSorting"]["categories"]) == 6


def test_every_answer_carries_a_request_id(hub: LiveHub) -> None:
    generated = hub.client.get("/healthz").headers["X-Request-Id"]
    assert len(generated) == 32
    echoed = hub.client.get("/healthz", headers={"X-Request-Id": "app-7f3e.1"})
    assert echoed.headers["X-Request-Id"] == "app-7f3e.1"
    unsafe = hub.client.get("/healthz", headers={"X-Request-Id": "evil\tvalue<script>"})
    assert unsafe.headers["X-Request-Id"] != "evil\tvalue<script>"


def test_malformed_json_is_a_json_error_not_plain_text(hub: LiveHub) -> None:
    response = hub.client.post(
        "/graphql", content=b'{"query": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_body_without_query_is_a_json_error(hub: LiveHub) -> None:
    response = hub.client.post("/graphql", json={"variables": {}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_wrongly_typed_variables_are_bad_user_input(hub: LiveHub) -> None:
    query = "query($item: String!) { garbageSorting { classify(item: $item) { query } } }"
    body = hub.graphql(query, {"item": 42}).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_oversized_body_is_refused_with_413(start_hub: Callable[..., LiveHub]) -> None:
    hub = start_hub(max_body_bytes=2_000)
    padding = "#" + "x" * 5_000 + "\n"
    response = hub.graphql(padding + "{ garbageSorting { categories { code } } }")
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_graphiql_is_not_served_when_switched_off(hub: LiveHub) -> None:
    response = hub.client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 404
