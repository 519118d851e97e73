"""一网通办 end to end: browse, filter, search and guides from the hub's copy of the catalogue,
items with their places and bank branches, and the resident's own view, over HTTP on the mocks."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import LiveHub, MockAdmin

OTHERS = ("youth", "library", "icbc", "ccb", "locks", "garbage")
ICBC_BRANCHES = "POST /api/branch.list"
CCB_BRANCHES = "POST /api/wd.list"
LUOHU = {"latitude": 22.5455, "longitude": 114.1187}

COUNTS = """query Counts { services {
  items(first: 1) { totalCount }
  lifeStages { code name itemCount } groups { code name itemCount } departments { code name itemCount }
  scenarios { id name itemCount } publicServices { id name category link }
  disclosureCategories { code name entryCount } budget: disclosures(category: "budget") { category url }
} }"""
ITEMS = """query Items($first: Int, $after: String, $filter: ServiceItemFilter) { services {
  items(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor score highlights { field text ranges { start end } fragments }
      node { code localCode name instant channels lifeStages groups type department { code } } } } } }"""
ITEM = """query Item($code: ID!, $near: Location) { services { item(code: $code) {
  code localCode name conditions promisedDays legalDays visits visitCount onlineLevel instant
  fee { yuan fen } legalBasis typeName department { code name }
  materials { name form required issuedBy replaceableByELicense hubELicense }
  places(near: $near, first: 50) { kind name distanceMeters mine bankBranch { id bank } }
  bankBranches(near: $near, first: 50) { id bank name distanceMeters } } } }"""
SCENARIO = """query Guide($id: ID!) { services { scenario(id: $id) { id name description
  steps { order code name item { code name } }
  materials { name itemCodes replaceableByELicense hubELicense }
  form { key label itemCodes value choices prefilledFrom } } } }"""
MY_SCENARIO = """query MyGuide($id: ID!) { me { name services { scenario(id: $id) {
  id form { key itemCodes value choices prefilledFrom } } } } }"""
MY_SERVICES = """query MyServices { me { services {
  recommended(first: 20) { reason lifeStage group item { code name lifeStages groups } }
  suggestedByLifeStage(first: 3) { lifeStage name reason totalCount items { code lifeStages } } } } }"""


@pytest.fixture
def admins(mocks: Any) -> Iterator[dict[str, MockAdmin]]:
    found = {name: MockAdmin(url) for name, url in mocks.urls.items()}
    for admin in found.values():
        admin.clear_faults()
        admin.reset()
    yield found
    for admin in found.values():
        admin.clear_faults()


def data(response: Any) -> Any:
    body = response.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


def items(hub: LiveHub, **variables: Any) -> dict[str, Any]:
    return data(hub.graphql(ITEMS, {"first": 50, **variables}))["services"]["items"]


def test_the_catalogue_counts_hold(hub: LiveHub) -> None:
    services = data(hub.graphql(COUNTS))["services"]
    assert services["items"]["totalCount"] >= 1200
    stages = services["lifeStages"]
    assert len(stages) == 9 and sum(s["itemCount"] for s in stages) == 116
    assert {s["code"]: s["name"] for s in stages}["BIRTH"] == "出生"
    assert all(s["itemCount"] > 0 for s in stages)
    assert [g["code"] for g in services["groups"]] == [
        "DISABLED", "ELDERLY", "FOREIGNERS", "ETHNIC_RELIGIOUS", "STUDENTS",
    ]  # fmt: skip
    assert all(g["itemCount"] > 0 for g in services["groups"])
    departments = services["departments"]
    assert len(departments) >= 12
    assert sum(d["itemCount"] for d in departments) == services["items"]["totalCount"]
    assert len(services["scenarios"]) >= 40
    assert len(services["publicServices"]) == 43
    assert len(services["disclosureCategories"]) == 11
    assert services["budget"] and {d["category"] for d in services["budget"]} == {"budget"}


@pytest.mark.parametrize(
    ("filter", "holds"),
    [
        ({"lifeStage": "HOUSING"}, lambda n: "HOUSING" in n["lifeStages"]),
        ({"group": "ELDERLY"}, lambda n: "ELDERLY" in n["groups"]),
        ({"instant": True}, lambda n: n["instant"]),
        ({"channel": "BANK"}, lambda n: "BANK" in n["channels"]),
        ({"channel": "COMMUNITY"}, lambda n: "COMMUNITY" in n["channels"]),
        ({"type": "LICENSING"}, lambda n: n["type"] == "LICENSING"),
        ({"department": "440303-GJJ"}, lambda n: n["department"]["code"] == "440303-GJJ"),
        (
            {"lifeStage": "RETIREMENT", "instant": False},
            lambda n: "RETIREMENT" in n["lifeStages"] and not n["instant"],
        ),
    ],
)
def test_filters_select_what_they_say(
    hub: LiveHub, filter: dict[str, Any], holds: Callable[[dict[str, Any]], bool]
) -> None:
    found = items(hub, filter=filter)
    nodes = [e["node"] for e in found["edges"]]
    assert nodes and all(holds(n) for n in nodes)
    assert 0 < found["totalCount"] < 1201


def test_the_filters_agree_with_the_counts(hub: LiveHub) -> None:
    services = data(hub.graphql(COUNTS))["services"]
    for stage in services["lifeStages"]:
        total = items(hub, first=1, filter={"lifeStage": stage["code"]})["totalCount"]
        assert total == stage["itemCount"], stage
    assert items(hub, first=1, filter={"instant": True})["totalCount"] == 111
    assert items(hub, first=1, filter={"channel": "BANK"})["totalCount"] == 340


def test_pages_follow_each_other_to_the_end(hub: LiveHub) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = items(hub, first=7, after=after, filter={"lifeStage": "WORK"})
        seen += [e["node"]["code"] for e in page["edges"]]
        pages += 1
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == page["totalCount"] and pages > 1


def test_a_search_reaches_the_copy_and_answers_from_it(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    hub = start_hub()
    found = items(hub, filter={"query": " 公积金 "})
    nodes = [e["node"] for e in found["edges"]]
    assert 0 < found["totalCount"] < 1201
    assert "住房公积金提取" in {n["name"] for n in nodes}
    assert "公积金" in nodes[0]["name"], "ranked: a match in the name comes first"
    assert all(edge["highlights"] for edge in found["edges"]), "every hit says where it matched"
    for edge in found["edges"]:  # whatever the index highlights lies inside its text
        for highlight in edge["highlights"]:
            assert all(
                0 <= r["start"] < r["end"] <= len(highlight["text"]) for r in highlight["ranges"]
            )
            assert len(highlight["fragments"]) == len(highlight["ranges"])
    # the copy is filled; searching again asks nobody, the catalogue included
    for admin in admins.values():
        admin.reset()
    again = items(hub, filter={"query": "公积金", "channel": "BANK"})
    assert again["edges"] and all("BANK" in e["node"]["channels"] for e in again["edges"])
    assert {name: admin.total() for name, admin in admins.items()} == dict.fromkeys(admins, 0)


def test_an_item_answers_everything_before_going(hub: LiveHub) -> None:
    item = data(hub.graphql(ITEM, {"code": "GJJ-0003", "near": LUOHU}))["services"]["item"]
    assert (item["localCode"], item["name"]) == ("GJJ-0003", "住房公积金提取")
    assert item["conditions"] and item["legalBasis"] and item["typeName"]
    assert item["visits"] in ("ZERO", "AT_MOST_ONCE") and item["visitCount"] in (0, 1)
    assert item["fee"]["yuan"] == f"{item['fee']['fen'] // 100}.{item['fee']['fen'] % 100:02d}"
    assert 0 <= item["promisedDays"] <= item["legalDays"]
    # the ID card can be replaced by the hub's identity record; nothing else by the hub
    by_name = {m["name"]: m for m in item["materials"]}
    assert by_name["居民身份证"]["replaceableByELicense"] is True
    assert by_name["居民身份证"]["hubELicense"] == "IDENTITY"
    others = [m for name, m in by_name.items() if name not in ("居民身份证", "户口簿")]
    assert others and not any(m["replaceableByELicense"] or m["hubELicense"] for m in others)
    # the places: the hall and the bank windows, nearest first
    places = item["places"]
    distances = [p["distanceMeters"] for p in places]
    assert distances == sorted(distances) and {p["kind"] for p in places} >= {"HALL", "BANK_WINDOW"}
    assert not any(p["mine"] for p in places)
    branches = item["bankBranches"]
    assert [b["distanceMeters"] for b in branches] == sorted(b["distanceMeters"] for b in branches)
    assert {p["bankBranch"]["id"] for p in places if p["bankBranch"]} == {b["id"] for b in branches}
    # the same branches bankWindows lists for the item's code
    listed = data(
        hub.graphql(
            '{ bankWindows { branches(itemCode: "GJJ-0003", first: 50) { edges { node { id } } } } }'
        )
    )["bankWindows"]["branches"]["edges"]
    assert {b["id"] for b in branches} == {e["node"]["id"] for e in listed} and branches
    # the implementation code finds the same item
    again = data(hub.graphql(ITEM, {"code": item["code"]}))["services"]["item"]
    assert again["localCode"] == "GJJ-0003" and again["places"][0]["distanceMeters"] is None


def test_a_local_item_lists_street_and_community_centres(hub: LiveHub) -> None:
    # 卫健 (WJ) has no item at bank windows
    found = items(hub, first=1, filter={"channel": "COMMUNITY", "department": "440303-WJ"})
    code = found["edges"][0]["node"]["code"]
    item = data(hub.graphql(ITEM, {"code": code, "near": LUOHU}))["services"]["item"]
    kinds = {p["kind"] for p in item["places"]}
    assert "COMMUNITY_CENTRE" in kinds and item["bankBranches"] == []
    distances = [p["distanceMeters"] for p in item["places"]]
    assert distances == sorted(distances)


def test_many_items_branches_cost_one_call_per_bank(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    # given a fresh hub whose copy of the catalogue is filled
    hub = start_hub()
    items(hub, first=1)
    for admin in admins.values():
        admin.reset()
    # when twenty bank items are listed with their branches
    query = """{ services { items(first: 20, filter: {channel: BANK}) {
      edges { node { code bankBranches(first: 50) { id bank } } } } } }"""
    edges = data(hub.graphql(query))["services"]["items"]["edges"]
    # then each bank was asked for its branches once, and nobody else was asked anything
    assert len(edges) == 20 and any(e["node"]["bankBranches"] for e in edges)
    assert admins["icbc"].calls(ICBC_BRANCHES) == 1 and admins["ccb"].calls(CCB_BRANCHES) == 1
    assert admins["icbc"].total() == 1 and admins["ccb"].total() == 1
    assert sum(admins[name].total() for name in ("youth", "library", "locks", "garbage")) == 0
    assert admins["catalogue"].total() == 0


def test_items_away_from_banks_ask_no_bank(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    hub = start_hub()
    query = """{ services { items(first: 20, filter: {department: "440303-WJ"}) {
      edges { node { channels places(first: 3) { kind } bankBranches { id } } } } } }"""
    edges = data(hub.graphql(query))["services"]["items"]["edges"]
    assert len(edges) == 20 and all(e["node"]["bankBranches"] == [] for e in edges)
    assert all(e["node"]["places"] and "BANK" not in e["node"]["channels"] for e in edges)
    assert admins["icbc"].total() == 0 and admins["ccb"].total() == 0


def test_unknown_item_and_scenario_are_null(hub: LiveHub) -> None:
    body = data(
        hub.graphql(
            '{ services { item(code: "ZZ-0000") { name } scenario(id: "SC999") { name } } }'
        )
    )
    assert body == {"services": {"item": None, "scenario": None}}


def test_a_scenario_merges_its_items_materials_and_form(hub: LiveHub) -> None:
    guide = data(hub.graphql(SCENARIO, {"id": "SC004"}))["services"]["scenario"]
    assert guide["name"] == "新生儿出生"
    steps = guide["steps"]
    assert [s["order"] for s in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 2
    assert all(s["item"] and s["item"]["code"] == s["code"] for s in steps)
    codes = {s["code"] for s in steps}
    names = [m["name"] for m in guide["materials"]]
    assert len(names) == len(set(names)) and "居民身份证" in names
    id_card = next(m for m in guide["materials"] if m["name"] == "居民身份证")
    assert set(id_card["itemCodes"]) == codes and id_card["replaceableByELicense"]
    keys = [f["key"] for f in guide["form"]]
    assert len(keys) == len(set(keys)) and {"applicant_name", "id_number", "child_name"} <= set(
        keys
    )
    assert all(set(f["itemCodes"]) <= codes and f["itemCodes"] for f in guide["form"])
    # nobody is signed in: nothing is pre-filled
    assert all(
        f["value"] is None and f["choices"] == [] and f["prefilledFrom"] is None
        for f in guide["form"]
    )


def test_bad_input_is_refused_before_anything_is_asked(
    hub: LiveHub, admins: dict[str, MockAdmin]
) -> None:
    cases = [
        (ITEMS, {"first": 0}, "first"),
        (ITEMS, {"first": 51}, "first"),
        (ITEMS, {"first": 5, "after": "bm9wZQ=="}, "after"),
        (ITEMS, {"first": 5, "filter": {"query": "办" * 501}}, "query"),
        (ITEMS, {"first": 5, "filter": {"department": "440303-NOPE"}}, "department"),
        (ITEM, {"code": "X" * 129}, "code"),
        (ITEM, {"code": "GJJ-0003", "near": {"latitude": 95, "longitude": 0}}, "near"),
    ]
    for query, variables, field in cases:
        body = hub.graphql(query, variables).json()
        refusals = [e["extensions"] for e in body["errors"]]  # `near`: places and branches
        assert refusals and all(
            r == {"code": "BAD_USER_INPUT", "field": field} for r in refusals
        ), (variables, body)
    refused = hub.graphql('{ services { disclosures(category: "gossip") { id } } }').json()
    assert refused["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "category"}
    enum = hub.graphql(ITEMS, {"first": 5, "filter": {"lifeStage": "TEENS"}}).json()
    assert enum["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert sum(admins[name].total() for name in OTHERS) == 0


def test_my_scenario_comes_pre_filled_and_masked(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    # given R000002, whose household has one child
    me = data(hub.graphql(MY_SCENARIO, {"id": "SC004"}, token=token_for("R000002")))["me"]
    form = {f["key"]: f for f in me["services"]["scenario"]["form"]}
    assert form["applicant_name"]["value"] == me["name"]
    assert form["applicant_name"]["prefilledFrom"] == "IDENTITY"
    assert re.fullmatch(r"4403\*{10}\d{3}[\dX]", form["id_number"]["value"])
    household = data(
        hub.graphql("{ me { household { members { name kind } } } }", token=token_for("R000002"))
    )["me"]["household"]["members"]
    children = [m["name"] for m in household if m["kind"] == "CHILD"]
    assert form["child_name"]["choices"] == children and form["child_name"]["value"] == children[0]
    assert form["phone"]["value"] is None and form["phone"]["prefilledFrom"] is None
    # and an anonymous caller gets no form at all under me
    anonymous = hub.graphql(MY_SCENARIO, {"id": "SC004"}).json()
    assert anonymous["data"]["me"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_with_both_banks_down_an_item_still_says_where_else_to_go(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin]
) -> None:
    # given a fresh hub (no branch list cached) and both banks down
    hub = start_hub()
    admins["icbc"].faults(down=True)
    admins["ccb"].faults(down=True)
    # when the bank item is read with its places and branches
    body = hub.graphql(ITEM, {"code": "GJJ-0003", "near": LUOHU}).json()
    # then the hall is still there, the branches are null, and each bank says it failed, once
    item = body["data"]["services"]["item"]
    assert item["name"] == "住房公积金提取" and item["bankBranches"] is None
    assert {p["kind"] for p in item["places"]} == {"HALL"} | (
        {"KIOSK_24H"} & {p["kind"] for p in item["places"]}
    )
    failures = sorted(
        (e["extensions"]["department"], e["extensions"]["code"]) for e in body["errors"]
    )
    assert failures == [("ccb", "UPSTREAM_UNAVAILABLE"), ("icbc", "UPSTREAM_UNAVAILABLE")]


def test_a_catalogue_outage_keeps_browsing_up_and_says_it_is_degraded(
    start_hub: Callable[..., LiveHub], admins: dict[str, MockAdmin], fresh_database_url: str
) -> None:
    # given a hub whose copy (in a fresh database, on each engine) is filled and refreshed often
    hub = start_hub(catalogue_refresh_s=0.2, database_url=fresh_database_url)
    fresh = hub.graphql(ITEMS, {"first": 50, "filter": {"query": "公积金"}}).json()
    assert "errors" not in fresh and "degraded" not in fresh.get("extensions", {})
    expected = fresh["data"]["services"]["items"]

    def browse(first: int, query: str = "公积金") -> Any:
        # a window not asked before each time: the answer is the copy's, not a cached response
        return hub.graphql(ITEMS, {"first": first, "filter": {"query": query}}).json()

    # when the catalogue goes down and a refresh has failed (every 0.2 s)
    admins["catalogue"].faults(down=True)
    for first in range(1, 51):
        answer = browse(first)
        if "degraded" in answer.get("extensions", {}):
            break
        time.sleep(0.3)
    # then the copy still answers, the same as before, and says the catalogue is degraded
    assert "errors" not in answer
    found = answer["data"]["services"]["items"]
    assert found["totalCount"] == expected["totalCount"]
    assert found["edges"] == expected["edges"][:first]
    (degraded,) = answer["extensions"]["degraded"]
    assert degraded["department"] == "catalogue"
    assert degraded["reason"].startswith("UPSTREAM_")
    # and once the catalogue is back, a refresh clears it (other windows: none asked before)
    admins["catalogue"].clear_faults()
    for first in range(1, 51):
        answer = browse(first, "社保")
        if "degraded" not in answer.get("extensions", {}):
            break
        time.sleep(0.3)
    assert "errors" not in answer and answer["data"]["services"]["items"]["totalCount"] > 0
    assert "degraded" not in answer.get("extensions", {})
