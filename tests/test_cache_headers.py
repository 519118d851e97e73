"""Cache headers on ``GET /graphql``, through a live hub: public answers cacheable, personal never.

A hash-only persisted GET of public data by an anonymous caller gets ``public, max-age`` and an
ETag (304 on a match); anything personal over GET — a resident's token, ``me`` — is
``private, no-store`` with ``Vary: Authorization``; POST answers carry no cache policy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import httpx

from tests.support import LiveHub

PUBLIC = "query CacheCategories { garbageSorting { categories { code name } } }"
PERSONAL = "query CacheMyName { me { name } }"


def registered(hub: LiveHub, query: str, token: str | None = None) -> dict[str, str]:
    """Register ``query`` as a persisted document; the GET parameters that name it by hash."""
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    first = hub.client.post(
        "/graphql", json={"query": query, "extensions": extensions}, headers=headers
    )
    assert first.status_code == 200, first.text
    return {"extensions": json.dumps(extensions)}


def assert_private(response: httpx.Response) -> None:
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Vary"] == "Authorization"
    assert "ETag" not in response.headers


def test_a_public_hash_only_get_is_cacheable_with_an_etag(hub: LiveHub) -> None:
    params = registered(hub, PUBLIC)
    response = hub.client.get("/graphql", params=params)
    assert response.status_code == 200
    assert len(response.json()["data"]["garbageSorting"]["categories"]) == 6
    cache_control = response.headers["Cache-Control"]
    assert cache_control.startswith("public, max-age=")
    assert int(cache_control.removeprefix("public, max-age=")) > 0
    etag = response.headers["ETag"]
    # the client's copy is current: 304, no body
    again = hub.client.get("/graphql", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    # a stale copy gets the full answer
    stale = hub.client.get("/graphql", params=params, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200
    assert stale.json() == response.json()


def test_a_resident_get_is_never_cacheable(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token = token_for("R000001")
    params = registered(hub, PUBLIC)
    response = hub.client.get(
        "/graphql", params=params, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert_private(response)


def test_me_over_get_is_never_cacheable(hub: LiveHub, token_for: Callable[..., str]) -> None:
    token = token_for("R000001")
    params = registered(hub, PERSONAL, token)
    for headers in ({"Authorization": f"Bearer {token}"}, {}):
        response = hub.client.get("/graphql", params=params, headers=headers)
        assert_private(response)


def test_a_get_with_the_query_text_is_not_public(hub: LiveHub) -> None:
    response = hub.client.get(
        "/graphql", params={"query": PUBLIC}, headers={"GraphQL-Require-Preflight": "1"}
    )
    assert response.status_code == 200
    assert_private(response)


def test_post_answers_carry_no_cache_policy(hub: LiveHub) -> None:
    response = hub.graphql(PUBLIC)
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers
    assert "ETag" not in response.headers
