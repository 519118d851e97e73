"""``me { services }`` end to end, on SQLite and PostgreSQL: recommendations from what the hub
holds (age, household), pre-filled guides audited like any personal read, no department asked."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from hub.store.db import make_engine
from hub.store.models import AuditRecord, HouseholdChild
from hub.store.seed import birth_date, child_birth_date
from schema.common import age_on
from tests.support import LiveHub, MockAdmin

CHINA = dt.timezone(dt.timedelta(hours=8))
OTHERS = ("youth", "library", "icbc", "ccb", "locks", "garbage")
MY_SERVICES = """query MyServices { me { services {
  recommended(first: 30) { reason lifeStage group item { code name lifeStages groups } }
  suggestedByLifeStage(first: 3) { lifeStage name reason totalCount items { code lifeStages } } } } }"""
MY_GUIDE = """query MyGuide { me { services { scenario(id: "SC004") {
  form { key value choices prefilledFrom } } } } }"""
COMMUNITY_ITEM = """{ services { items(first: 1, filter: {channel: COMMUNITY, department: "440303-WJ"}) {
  edges { node { code } } } } }"""
PLACES = "places(first: 50) { kind mine street community { id } }"
MY_ITEM = f"query MyItem($code: ID!) {{ me {{ services {{ item(code: $code) {{ {PLACES} }} }} }} }}"
PUBLIC_ITEM = f"query Item($code: ID!) {{ services {{ item(code: $code) {{ {PLACES} }} }} }}"
GUIDE = """query Guide { services { scenario(id: "SC004") { form { key value } } } }"""


@pytest.fixture
def admins(mocks: Any) -> Iterator[dict[str, MockAdmin]]:
    found = {name: MockAdmin(mocks.urls[name]) for name in OTHERS}
    for admin in found.values():
        admin.clear_faults()
        admin.reset()
    yield found


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


def add_newborn(url: str, household: str) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            born = today() - dt.timedelta(days=40)
            session.add(
                HouseholdChild(id="Y99991", household_id=household, name="罗小宝", birth_date=born)
            )
            session.commit()
    finally:
        engine.dispose()


def audit_records(url: str) -> list[AuditRecord]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())
    finally:
        engine.dispose()


def my_services(hub: LiveHub, token: str) -> dict[str, Any]:
    body = hub.graphql(MY_SERVICES, token=token).json()
    assert "errors" not in body, body["errors"]
    return dict(body["data"]["me"]["services"])


def stages(services: dict[str, Any]) -> set[str]:
    return {s["lifeStage"] for s in services["suggestedByLifeStage"]}


def test_recommendations_follow_age_and_household_and_ask_no_department(
    start_hub: Callable[..., LiveHub],
    fresh_database_url: str,
    token_for: Callable[..., str],
    admins: dict[str, MockAdmin],
) -> None:
    # given the seed's residents: R000003 is over 60 with two school children (household 2);
    # R000007 is in their thirties, and a newborn is added to their household (H0004, no
    # children in the seed); R000015 is in their twenties without children (household 8)
    hub = start_hub(database_url=fresh_database_url)
    assert age_on(birth_date(3), today()) >= 60
    assert all(6 <= age_on(child_birth_date(2, i), today()) <= 15 for i in (1, 2))
    assert (
        20 <= age_on(birth_date(7), today()) <= 40 and 20 <= age_on(birth_date(15), today()) <= 40
    )
    add_newborn(fresh_database_url, "H0004")
    # when each reads their services
    elder = my_services(hub, token_for("R000003"))
    parent = my_services(hub, token_for("R000007"))
    young = my_services(hub, token_for("R000015"))
    # then the rules of the table hold
    assert {"RETIREMENT", "SCHOOL", "WHOLE_LIFE"} <= stages(elder)
    assert not {"WORK", "BIRTH", "MARRIAGE"} & stages(elder)
    assert {"ELDERLY", "STUDENTS"} <= {r["group"] for r in elder["recommended"]}
    assert {"BIRTH", "CHILDBIRTH", "WORK", "MARRIAGE", "HOUSING"} <= stages(parent)
    assert not {"RETIREMENT", "SCHOOL"} & stages(parent)
    assert not {"BIRTH", "CHILDBIRTH", "SCHOOL", "RETIREMENT"} & stages(young)
    assert "ELDERLY" not in {r["group"] for r in young["recommended"] + parent["recommended"]}
    # each suggestion is an item of its stage or group, once
    for services in (elder, parent, young):
        for suggestion in services["suggestedByLifeStage"]:
            assert suggestion["items"] and suggestion["totalCount"] >= len(suggestion["items"])
            assert all(suggestion["lifeStage"] in i["lifeStages"] for i in suggestion["items"])
        codes = [r["item"]["code"] for r in services["recommended"]]
        assert len(codes) == len(set(codes)) and codes
        for r in services["recommended"]:
            assert r["lifeStage"] in r["item"]["lifeStages"] or r["group"] in r["item"]["groups"]
    assert {"出生", "生育"} <= {s["name"] for s in parent["suggestedByLifeStage"]}
    # an item read under me lists the resident's own community and street centres first
    edges = hub.graphql(COMMUNITY_ITEM).json()["data"]["services"]["items"]["edges"]
    code = edges[0]["node"]["code"]
    body = hub.graphql(MY_ITEM, {"code": code}, token=token_for("R000007")).json()
    places = body["data"]["me"]["services"]["item"]["places"]
    own = sum(p["mine"] for p in places)
    assert own >= 1 and all(p["mine"] for p in places[:own]) and places[0]["mine"]
    [centre] = [p for p in places if p["kind"] == "COMMUNITY_CENTRE" and p["mine"]]
    assert centre["community"]["id"] == "C004"  # household 4's community
    assert all(p["street"] == centre["street"] for p in places[:own])
    public = hub.graphql(PUBLIC_ITEM, {"code": code}).json()["data"]["services"]["item"]
    assert not any(p["mine"] for p in public["places"]) and len(public["places"]) == len(places)
    # and no department but the catalogue's copy was needed
    assert {name: admin.total() for name, admin in admins.items()} == dict.fromkeys(OTHERS, 0)


def test_a_pre_filled_guide_is_audited_like_any_personal_read(
    start_hub: Callable[..., LiveHub], fresh_database_url: str, token_for: Callable[..., str]
) -> None:
    hub = start_hub(database_url=fresh_database_url)
    # an anonymous guide has no values and leaves no record
    public = hub.graphql(GUIDE).json()["data"]["services"]["scenario"]["form"]
    assert public and all(f["value"] is None for f in public)
    assert audit_records(fresh_database_url) == []
    # the resident's own guide is pre-filled, and the read is recorded without its values
    body = hub.graphql(MY_GUIDE, token=token_for("R000002")).json()
    form = {f["key"]: f for f in body["data"]["me"]["services"]["scenario"]["form"]}
    assert form["id_number"]["value"] and "*" in form["id_number"]["value"]
    assert form["applicant_name"]["prefilledFrom"] == "IDENTITY"
    [record] = audit_records(fresh_database_url)
    assert (record.principal, json.loads(record.subjects)) == ("R000002", ["R000002"])
    assert record.operation_name == "MyGuide" and record.outcome == "ok"
    assert "me.services.scenario.form.value" in json.loads(record.fields)
    stored = json.dumps(record.model_dump(exclude={"at"}), default=str)
    assert form["applicant_name"]["value"] not in stored
    assert form["id_number"]["value"] not in stored


def test_no_audit_record_no_pre_filled_values(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], tmp_path: Path
) -> None:
    # given a hub whose audit table is gone (the writer fails at the database, for real)
    database = tmp_path / "withheld.db"
    hub = start_hub(database_url=f"sqlite:///{database}")
    token = token_for("R000002")
    name = hub.graphql("{ me { name } }", token=token).json()["data"]["me"]["name"]
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE audit_record")
    # when the resident asks for their pre-filled guide, with the public guide beside it
    response = hub.graphql(
        """query Both { me { services { scenario(id: "SC004") { form { key value } } } }
        services { scenario(id: "SC004") { name } } }""",
        token=token,
    )
    body = response.json()
    # then nothing personal comes back, only an internal error where it would have been
    assert response.status_code == 200
    assert body["data"]["me"] is None and body["data"]["services"]["scenario"]["name"]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me"], "INTERNAL_SERVER_ERROR")
    ]
    assert name not in json.dumps(body, ensure_ascii=False)
