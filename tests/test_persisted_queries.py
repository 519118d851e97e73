"""Automatic persisted queries (Apollo protocol) through the hub's HTTP endpoint."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.support import LiveHub

QUERY = "{ garbageSorting { categories { code name } } }"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(digest: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def stored(database: Path) -> set[str]:
    with sqlite3.connect(database) as db:
        return {row[0] for row in db.execute("SELECT sha256 FROM persisted_document")}


def hub_with_db(start_hub: Callable[..., LiveHub], path: Path, **overrides: object) -> LiveHub:
    return start_hub(database_url=f"sqlite:///{path}", **overrides)


def test_not_found_then_register_then_hash_only(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    database = tmp_path / "apq.db"
    hub = hub_with_db(start_hub, database)
    # given a hash the hub has never seen
    unknown = hub.client.post("/graphql", json={"extensions": apq(sha(QUERY))})
    assert unknown.status_code == 200
    assert unknown.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    # when the client resends with the query
    registered = hub.client.post("/graphql", json={"query": QUERY, "extensions": apq(sha(QUERY))})
    assert len(registered.json()["data"]["garbageSorting"]["categories"]) == 6
    assert stored(database) == {sha(QUERY)}
    # then the hash alone is enough, over POST and over GET (cacheable by HTTP caches)
    by_hash = hub.client.post("/graphql", json={"extensions": apq(sha(QUERY))})
    over_get = hub.client.get("/graphql", params={"extensions": json.dumps(apq(sha(QUERY)))})
    assert by_hash.json() == over_get.json() == registered.json()


def test_a_restarted_hub_still_knows_the_document(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    database = tmp_path / "apq.db"
    hub_with_db(start_hub, database).client.post(
        "/graphql", json={"query": QUERY, "extensions": apq(sha(QUERY))}
    )
    again = hub_with_db(start_hub, database).client.post(
        "/graphql", json={"extensions": apq(sha(QUERY))}
    )
    assert "data" in again.json()


def test_a_hash_that_does_not_match_is_refused_and_nothing_is_stored(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    database = tmp_path / "apq.db"
    hub = hub_with_db(start_hub, database)
    response = hub.client.post("/graphql", json={"query": QUERY, "extensions": apq("0" * 64)})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stored(database) == set()


def test_an_invalid_document_is_answered_but_not_stored(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    database = tmp_path / "apq.db"
    hub = hub_with_db(start_hub, database)
    bad = "{ garbageSorting { nope } }"
    response = hub.client.post("/graphql", json={"query": bad, "extensions": apq(sha(bad))})
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert stored(database) == set()


def test_malformed_persisted_query_extension(hub: LiveHub) -> None:
    for extension in (
        {"persistedQuery": {"version": 2, "sha256Hash": sha(QUERY)}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not-a-hash"}},
    ):
        response = hub.client.post("/graphql", json={"extensions": extension})
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_mutation_is_never_run_over_get(hub: LiveHub, token_for: Callable[..., str]) -> None:
    mutation = (
        'mutation { openDoor(input: {lockId: "10001", idempotencyKey: "over-get-1"}) { outcome } }'
    )
    hub.client.post("/graphql", json={"query": mutation, "extensions": apq(sha(mutation))})
    response = hub.client.get(
        "/graphql",
        params={"extensions": json.dumps(apq(sha(mutation)))},
        headers={"Authorization": f"Bearer {token_for('R000001')}"},
    )
    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_the_off_switch(start_hub: Callable[..., LiveHub]) -> None:
    hub = start_hub(apq=False)
    response = hub.client.post("/graphql", json={"extensions": apq(sha(QUERY))})
    assert response.json()["errors"][0]["message"] == "PersistedQueryNotSupported"
    plain = hub.client.post("/graphql", json={"query": QUERY})
    assert "data" in plain.json()
