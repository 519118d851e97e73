"""Garbage sorting end to end: HTTP into the hub, HTTP out to the garbage mock."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.support import LiveHub, MockAdmin

ITEMS = "GET /api/items"
CLASSIFY = "query Classify($item: String!) { garbageSorting { classify(item: $item) { match { name category { code name binColor } } suggestions { name } } } }"


def classify(hub: LiveHub, item: str) -> dict:
    response = hub.graphql(CLASSIFY, {"item": item})
    assert response.status_code == 200
    return response.json()


def test_battery_goes_in_the_hazardous_bin(hub: LiveHub) -> None:
    body = classify(hub, "电池")
    match = body["data"]["garbageSorting"]["classify"]["match"]
    assert match["name"] == "电池"
    assert match["category"] == {"code": "HAZARDOUS", "name": "有害垃圾", "binColor": "red"}
    assert "errors" not in body


def test_unknown_prefix_answers_suggestions(hub: LiveHub) -> None:
    query = '{ garbageSorting { classify(item: "旧") { match { name } suggestions { name aliases } } } }'
    found = hub.graphql(query).json()["data"]["garbageSorting"]["classify"]
    assert found["match"] is None
    assert found["suggestions"]
    for suggestion in found["suggestions"]:
        assert any(n.startswith("旧") for n in [suggestion["name"], *suggestion["aliases"]])


def test_twenty_concurrent_identical_classify_requests_make_at_most_one_upstream_call(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin
) -> None:
    # given a hub with empty caches
    hub = start_hub()
    # when 20 clients ask the same question at once
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda _: classify(hub, "充电宝"), range(20)))
    # then every answer is right, and the department was asked at most once
    assert {
        a["data"]["garbageSorting"]["classify"]["match"]["category"]["code"] for a in answers
    } == {"RECYCLABLE"}
    assert garbage.calls(ITEMS) <= 1
    # and a repeat within the TTL asks nothing
    before = garbage.total()
    classify(hub, "充电宝")
    assert garbage.total() == before


def test_expired_entry_is_revalidated_with_if_none_match(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin, make_settings: Callable[..., object]
) -> None:
    # given a hub whose garbage answers expire at once
    settings = make_settings(env={"HUB_GARBAGE_CACHE_TTL_S": "0"})
    hub = start_hub(departments=settings.departments)  # type: ignore[attr-defined]
    classify(hub, "纸箱")
    assert garbage.answers(ITEMS, 200) == 1
    # when the same question comes again
    again = classify(hub, "纸箱")
    # then the hub asked with its ETag, got 304, and answered the same
    assert again["data"]["garbageSorting"]["classify"]["match"]["name"] == "纸箱"
    assert garbage.answers(ITEMS, 304) == 1
    assert garbage.answers(ITEMS, 200) == 1


def test_article_html_reaches_clients_sanitised(hub: LiveHub) -> None:
    query = '{ garbageSorting { article(id: "A0001") { title bodyHtml } articles(first: 50) { edges { node { id bodyHtml } } } } }'
    body = hub.graphql(query).json()
    bodies = [body["data"]["garbageSorting"]["article"]["bodyHtml"]] + [
        e["node"]["bodyHtml"] for e in body["data"]["garbageSorting"]["articles"]["edges"]
    ]
    assert len(bodies) == 51
    for html in bodies:
        lowered = html.lower()
        assert "<script" not in lowered
        assert "onerror" not in lowered and "onload" not in lowered and "onclick" not in lowered
        assert "javascript:" not in lowered


def test_articles_page_with_cursors(hub: LiveHub) -> None:
    query = "query($after: String) { garbageSorting { articles(first: 7, after: $after) { totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }"
    first = hub.graphql(query, {"after": None}).json()["data"]["garbageSorting"]["articles"]
    second = hub.graphql(query, {"after": first["pageInfo"]["endCursor"]}).json()
    second = second["data"]["garbageSorting"]["articles"]
    ids = [e["node"]["id"] for e in first["edges"] + second["edges"]]
    assert len(ids) == len(set(ids)) == 14
    assert first["pageInfo"] == {**first["pageInfo"], "hasNextPage": True, "hasPreviousPage": False}
    assert second["pageInfo"]["hasPreviousPage"] is True


def test_bad_arguments_are_bad_user_input(hub: LiveHub) -> None:
    cases = [
        "{ garbageSorting { articles(first: 0) { totalCount } } }",
        '{ garbageSorting { articles(first: 5, after: "bm90LWEtY3Vyc29y") { totalCount } } }',
        '{ garbageSorting { classify(item: "   ") { query } } }',
        '{ garbageSorting { events(from: "2026-12-01", to: "2026-11-01") { id } } }',
        '{ garbageSorting { events(from: "yesterday", to: "2026-11-01") { id } } }',
        "{ garbageSorting { unknownField } }",
        '{ garbageSorting { classify(item: "电池") { match { name } }',
    ]
    for query in cases:
        body = hub.graphql(query).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], query


def test_collection_points_and_events(hub: LiveHub) -> None:
    query = '{ garbageSorting { collectionPoints(communityId: "C007") { communityId openHours { start end } accepts } events(from: "2026-01-01", to: "2026-12-31") { id startsAt } } }'
    data = hub.graphql(query).json()["data"]["garbageSorting"]
    assert len(data["collectionPoints"]) == 2
    assert {p["communityId"] for p in data["collectionPoints"]} == {"C007"}
    assert all(e["startsAt"].startswith("2026") for e in data["events"])


def test_a_failing_department_nulls_only_its_own_fields(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin, token_for: Callable[..., str]
) -> None:
    hub = start_hub()
    query = '{ me { name } garbageSorting { classify(item: "电池") { match { name } } categories { code } } }'
    for faults, code in (
        ({"down": True}, "UPSTREAM_UNAVAILABLE"),
        ({"garbage_body": True}, "UPSTREAM_ERROR"),
    ):
        garbage.faults(**faults)
        response = hub.graphql(query, token=token_for("R000001"))
        body = response.json()
        assert response.status_code == 200
        assert body["data"]["me"]["name"], "hub-owned data still answers"
        assert body["data"]["garbageSorting"] == {"classify": None, "categories": None}
        # one error for the one failing department (README), on one of the fields it nulled
        [error] = body["errors"]
        assert error["extensions"]["code"] == code
        assert error["extensions"]["department"] == "garbage"
        assert tuple(error["path"]) in {
            ("garbageSorting", "categories"),
            ("garbageSorting", "classify"),
        }
        text = json.dumps(body, ensure_ascii=False)
        assert (
            "Traceback" not in text and "Service Unavailable" not in text and "\\u0000" not in text
        )
        garbage.clear_faults()


def test_slow_department_times_out_with_its_code(
    start_hub: Callable[..., LiveHub], garbage: MockAdmin, make_settings: Callable[..., object]
) -> None:
    settings = make_settings(env={"HUB_GARBAGE_TIMEOUT_S": "0.2"})
    hub = start_hub(departments=settings.departments)  # type: ignore[attr-defined]
    garbage.faults(latency_ms=800)
    body = hub.graphql('{ garbageSorting { classify(item: "电池") { query } } }').json()
    assert body["data"]["garbageSorting"]["classify"] is None
    assert body["errors"][0]["extensions"] == {"code": "UPSTREAM_TIMEOUT", "department": "garbage"}
