"""帮办 end to end, on SQLite and PostgreSQL: a resident grants a consent, a bank's window
redeems its code through its manifest's operations, reads exactly what was granted and files
the item; every refusal (expired, revoked, another bank, another resident, a field or item
outside the grant, replay, brute force) and the audit trail with both identities."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from hub.security.ratelimit import BucketPolicy
from hub.store.audit import verify_chain
from hub.store.db import drop_tables, make_engine
from hub.store.models import Consent, IdempotencyRecord, Resident
from tests.gov import cases
from tests.support import BackgroundMocks, LiveHub, MockAdmin
from tests.test_partners import CCB, ICBC, operations, token
from tests.test_shared_state import prefix, redis_url  # noqa: F401  (fixtures)

URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])
RESIDENT, OTHER = "R000002", "R000003"
ITEM, OTHER_ITEM = "GJJ-0003", "SB-0001"
ICBC_BRANCH, CCB_BRANCH = "4000103", "44200001"
EVERYTHING = ["IDENTITY", "HOUSEHOLD_MEMBERS", "MATERIALS", "APPLICATION_STATE", "FILE_APPLICATION"]
GRANT = """mutation Grant($input: GrantConsentInput!) { grantConsent(input: $input) {
  consent { id itemCode bank branchId scopes unmasked status expiresAt }
  code qrCode { format size svg dataUri } userErrors { code field } } }"""
REVOKE = """mutation Revoke($input: RevokeConsentInput!) { revokeConsent(input: $input) {
  consent { id status revokedAt } userErrors { code field } } }"""
MY_CONSENTS = "query { me { consents { id status redeemedBy redeemedAt } } }"
MY_LOG = """query { me { dataAccessLog(first: 50) { edges { node {
  principalKind principal operationName consentIds fields outcome } } } } }"""
REDEEM_ADHOC = """mutation { redeemConsent(input: {code: "123456", idempotencyKey: "adhoc-1234"}) {
  id } }"""


class Clock:
    """The consents' clock, moved by the test (no sleeping for a consent to expire)."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(params=URLS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'consent.db'}"
        return
    url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(start_hub: Callable[..., LiveHub], database_url: str, clock: Clock) -> LiveHub:
    return start_hub(
        database_url=database_url,
        consent_clock=clock,
        consent_redeem_attempts=BucketPolicy("consent-redeem", 6, 0.0001),
    )


class Window:
    """A bank's window system: its token and its manifest's operations, run by id."""

    def __init__(self, hub: LiveHub, bank: str, credentials: dict[str, str]) -> None:
        self.hub, self.ops = hub, operations(bank)
        self.bearer = token(hub, credentials)
        self.keys = iter(range(1_000_000))

    def run(self, name: str, **variables: Any) -> dict[str, Any]:
        body = {"documentId": f"sha256:{self.ops[name]}", "variables": variables}
        response = self.hub.client.post(
            "/graphql", json=body, headers={"Authorization": f"Bearer {self.bearer}"}
        )
        assert response.status_code in (200, 429), response.text
        return dict(response.json())

    def key(self) -> str:
        return f"window-key-{id(self):x}-{next(self.keys):06d}"

    def redeem(self, code: str, key: str | None = None) -> dict[str, Any]:
        return self.run("RedeemConsent", code=code, idempotencyKey=key or self.key())

    def read(self, consent_id: str) -> dict[str, Any]:
        return self.run("ConsentedResident", consentId=consent_id)

    def file(
        self,
        consent_id: str,
        item: str = ITEM,
        key: str | None = None,
        answers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        return self.run(
            "FileUnderConsent",
            consentId=consent_id,
            itemCode=item,
            idempotencyKey=key or self.key(),
            answers=answers,
        )


def resident(hub: LiveHub, token_for: Callable[..., str], who: str = RESIDENT) -> Any:
    bearer = token_for(who)

    def run(query: str, **variables: Any) -> dict[str, Any]:
        return dict(hub.graphql(query, variables or None, token=bearer).json())

    return run


def grant(run: Callable[..., dict[str, Any]], key: str, **changes: Any) -> dict[str, Any]:
    given = {
        "itemCode": ITEM, "bank": "ICBC", "branchId": ICBC_BRANCH, "scopes": EVERYTHING,
        "unmasked": ["NAME"], "minutes": 10, "idempotencyKey": key, **changes,
    }  # fmt: skip
    answer = run(GRANT, input={k: v for k, v in given.items() if v is not None})
    assert "errors" not in answer, answer
    return dict(answer["data"]["grantConsent"])


def codes(answer: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in answer.get("errors", [])]


def errors_at(answer: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {
        ".".join(map(str, e["path"])): (e["extensions"]["code"], e["extensions"].get("reason"))
        for e in answer.get("errors", [])
    }


def real(database_url: str, resident_id: str) -> Resident:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            found = session.get(Resident, resident_id)
            assert found is not None
            return found
    finally:
        engine.dispose()


def test_the_whole_flow(hub: LiveHub, token_for: Callable[..., str], database_url: str) -> None:
    # given a resident at an ICBC window who grants a consent for one item
    me = resident(hub, token_for)
    granted = grant(me, "grant-flow-0001")
    code, consent = granted["code"], granted["consent"]
    assert re.fullmatch(r"\d{6}", code) and granted["userErrors"] == []
    assert consent["status"] == "PENDING" and consent["bank"] == "ICBC"
    assert consent["itemCode"] != ITEM, "the item's implementation code, found by its local code"
    qr = granted["qrCode"]
    assert qr["format"] == "SVG" and qr["svg"].startswith("<svg") and code not in qr["svg"]
    assert qr["dataUri"].startswith("data:image/svg+xml;base64,")
    # the hub keeps neither the code nor anything it could be read back from
    engine = make_engine(database_url)
    with Session(engine) as session:
        row = session.get(Consent, consent["id"])
        assert row is not None and code not in json.dumps(row.model_dump(), default=str)
        kept = session.exec(select(IdempotencyRecord.response)).all()
        assert all(code not in (response or "") for response in kept)
    # a repeat of the grant answers the same consent, without the code
    again = grant(me, "grant-flow-0001")
    assert again["consent"]["id"] == consent["id"] and again["code"] is None
    assert again["qrCode"] is None

    # when ICBC's window redeems the code and reads the resident
    window = Window(hub, "icbc", ICBC)
    redeemed = window.redeem(code)
    assert "errors" not in redeemed, redeemed
    assert redeemed["data"]["redeemConsent"]["id"] == consent["id"]
    read = window.read(consent["id"])
    assert "errors" not in read, read
    seen = read["data"]["partner"]["consent"]
    person = real(database_url, RESIDENT)
    # then it sees exactly the grant: the name in full (unmasked), the ID number masked
    assert seen["name"] == person.name
    assert seen["idNumber"] == person.id_number[:4] + "*" * 10 + person.id_number[-4:]
    assert seen["materials"], "the item's materials"
    assert all(m["name"] for m in seen["materials"])
    assert isinstance(seen["householdMembers"], list) and seen["applications"] == []

    # when it files the item under the consent (twice with one key: one filing)
    key = window.key()
    filed = window.file(consent["id"], key=key)
    assert "errors" not in filed, filed
    application = filed["data"]["fileUnderConsent"]["application"]
    assert application["state"] == "RECEIVED", "an item the approval service does not decide"
    assert application["reasons"] == [] and application["refusal"] is None
    assert application["filedBy"] == "icbc" and application["consentId"] == consent["id"]
    assert window.file(consent["id"], key=key)["data"] == filed["data"]
    # a second filing with another key is still the one filing of this consent
    refiled = window.file(consent["id"])["data"]["fileUnderConsent"]["application"]
    assert refiled["id"] == application["id"]
    states = window.run("ConsentedApplications", consentId=consent["id"])
    assert [a["id"] for a in states["data"]["partner"]["consent"]["applications"]] == [
        application["id"]
    ]

    # then the resident sees the consent redeemed, and everything done under it in their log
    mine = me(MY_CONSENTS)["data"]["me"]["consents"]
    assert mine[0]["id"] == consent["id"] and mine[0]["status"] == "REDEEMED"
    assert mine[0]["redeemedBy"] == "icbc"
    log = [e["node"] for e in me(MY_LOG)["data"]["me"]["dataAccessLog"]["edges"]]
    under = [n for n in log if n["consentIds"]]
    assert {n["operationName"] for n in under} == {
        "RedeemConsent", "ConsentedResident", "FileUnderConsent", "ConsentedApplications"
    }  # fmt: skip
    assert all(n["principalKind"] == "partner" and n["principal"] == "icbc" for n in under)
    assert all(n["consentIds"] == [consent["id"]] for n in under)
    read_entry = next(n for n in under if n["operationName"] == "ConsentedResident")
    assert "partner.consent.idNumber" in read_entry["fields"]
    # and the chain holds, the new records (with consents) and the old ones alike
    checked, broken = verify_chain(engine)
    engine.dispose()
    assert broken is None and checked >= len(log)


def test_replay_and_another_bank(hub: LiveHub, token_for: Callable[..., str]) -> None:
    code = grant(resident(hub, token_for), "grant-replay-01")["code"]
    icbc, ccb = Window(hub, "icbc", ICBC), Window(hub, "ccb", CCB)
    # another bank's window cannot redeem a code granted to ICBC's branch
    assert codes(ccb.redeem(code)) == ["NOT_FOUND"]
    redeemed = icbc.redeem(code)
    consent_id = redeemed["data"]["redeemConsent"]["id"]
    # the code is spent: a replay is refused, by the same window and by another
    assert codes(icbc.redeem(code)) == ["NOT_FOUND"]
    assert codes(ccb.redeem(code)) == ["NOT_FOUND"]
    # a retry of the redemption itself (same idempotency key) answers the same consent
    key = icbc.key()
    other = grant(resident(hub, token_for), "grant-replay-02")["code"]
    first = icbc.redeem(other, key=key)
    assert icbc.redeem(other, key=key)["data"] == first["data"]
    # another bank cannot read or act under ICBC's consent
    assert codes(ccb.read(consent_id)) == ["NOT_FOUND"]
    assert codes(ccb.file(consent_id)) == ["NOT_FOUND"]


def test_fields_and_items_outside_the_grant(
    hub: LiveHub, token_for: Callable[..., str], database_url: str
) -> None:
    granted = grant(resident(hub, token_for), "grant-narrow-01", scopes=["IDENTITY"], unmasked=[])
    window = Window(hub, "icbc", ICBC)
    consent_id = window.redeem(granted["code"])["data"]["redeemConsent"]["id"]
    read = window.read(consent_id)
    seen = read["data"]["partner"]["consent"]
    person = real(database_url, RESIDENT)
    # the granted field answers, masked (NAME was not unmasked); the others are refused
    assert seen["name"] == person.name[0] + "*" * (len(person.name) - 1)
    assert seen["householdMembers"] is None and seen["materials"] is None
    assert seen["applications"] is None
    assert errors_at(read) == {
        "partner.consent.householdMembers": ("FORBIDDEN", "NOT_GRANTED"),
        "partner.consent.materials": ("FORBIDDEN", "NOT_GRANTED"),
        "partner.consent.applications": ("FORBIDDEN", "NOT_GRANTED"),
    }
    # filing needs FILE_APPLICATION
    assert codes(window.file(consent_id)) == ["FORBIDDEN"]
    # a consent that allows filing allows it for its own item only
    wide = grant(resident(hub, token_for), "grant-narrow-02")
    wide_id = window.redeem(wide["code"])["data"]["redeemConsent"]["id"]
    other_item = window.file(wide_id, item=OTHER_ITEM)
    assert codes(other_item) == ["FORBIDDEN"]
    assert other_item["errors"][0]["extensions"]["field"] == "itemCode"


def test_two_windows_redeeming_at_once_get_one_redemption(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    code = grant(resident(hub, token_for), "grant-race-0001")["code"]
    windows = [Window(hub, "icbc", ICBC) for _ in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda window: window.redeem(code), windows))
    won = [a for a in answers if "errors" not in a]
    assert len(won) == 1, answers
    assert sorted(codes(a) for a in answers if a not in won) == [["NOT_FOUND"]] * 5


def test_other_residents(hub: LiveHub, token_for: Callable[..., str]) -> None:
    window = Window(hub, "icbc", ICBC)
    mine = grant(resident(hub, token_for), "grant-others-01")
    theirs = grant(resident(hub, token_for, OTHER), "grant-others-02")
    window.redeem(mine["code"])
    # a consent the window did not redeem (another resident's, pending) does not exist for it
    assert codes(window.read(theirs["consent"]["id"])) == ["NOT_FOUND"]
    assert codes(window.read("C0000000000000000")) == ["NOT_FOUND"]
    # a resident cannot revoke someone else's consent
    revoked = resident(hub, token_for)(
        REVOKE, input={"consentId": theirs["consent"]["id"], "idempotencyKey": "revoke-other-1"}
    )
    assert revoked["data"]["revokeConsent"]["userErrors"] == [
        {"code": "NOT_FOUND", "field": "consentId"}
    ]
    # nor can a window grant, nor a resident redeem
    assert codes(window.hub.graphql(GRANT, {"input": {
        "itemCode": ITEM, "bank": "ICBC", "scopes": ["IDENTITY"], "idempotencyKey": "grant-by-bank",
    }}, token=window.bearer).json()) in (["FORBIDDEN"], ["PERSISTED_QUERY_NOT_ALLOWED"])  # fmt: skip
    assert codes(resident(hub, token_for)(REDEEM_ADHOC)) == ["FORBIDDEN"]


def test_expiry(hub: LiveHub, token_for: Callable[..., str], clock: Clock) -> None:
    me = resident(hub, token_for)
    window = Window(hub, "icbc", ICBC)
    late = grant(me, "grant-expiry-01", minutes=1)
    used = grant(me, "grant-expiry-02", minutes=2)
    consent_id = window.redeem(used["code"])["data"]["redeemConsent"]["id"]
    # when a minute and a second have passed
    clock.advance(seconds=61)
    # then the first code can no longer be redeemed, the second consent still reads
    assert codes(window.redeem(late["code"])) == ["NOT_FOUND"]
    assert "errors" not in window.read(consent_id)
    # and once it too has expired, nothing answers under it
    clock.advance(seconds=60)
    expired = window.read(consent_id)
    assert errors_at(expired) == {"partner.consent": ("FORBIDDEN", "EXPIRED")}
    assert codes(window.file(consent_id)) == ["FORBIDDEN"]
    statuses = {c["id"]: c["status"] for c in me(MY_CONSENTS)["data"]["me"]["consents"]}
    assert statuses == {late["consent"]["id"]: "EXPIRED", consent_id: "EXPIRED"}


def test_revocation(hub: LiveHub, token_for: Callable[..., str]) -> None:
    me = resident(hub, token_for)
    window = Window(hub, "icbc", ICBC)
    redeemed = grant(me, "grant-revoke-01")
    pending = grant(me, "grant-revoke-02")
    consent_id = window.redeem(redeemed["code"])["data"]["redeemConsent"]["id"]
    for granted, key in ((redeemed, "revoke-key-01"), (pending, "revoke-key-02")):
        answer = me(REVOKE, input={"consentId": granted["consent"]["id"], "idempotencyKey": key})
        assert answer["data"]["revokeConsent"]["consent"]["status"] == "REVOKED"
    # a revoked consent reads and files nothing; a revoked code cannot be redeemed
    assert errors_at(window.read(consent_id)) == {"partner.consent": ("FORBIDDEN", "REVOKED")}
    assert codes(window.file(consent_id)) == ["FORBIDDEN"]
    assert codes(window.redeem(pending["code"])) == ["NOT_FOUND"]


def test_a_consent_for_one_window_system_only(hub: LiveHub, token_for: Callable[..., str]) -> None:
    window = Window(hub, "icbc", ICBC)
    elsewhere = grant(
        resident(hub, token_for), "grant-partner-1", branchId=None, partnerId="icbc-mobile"
    )
    assert codes(window.redeem(elsewhere["code"])) == ["NOT_FOUND"]
    this_one = grant(resident(hub, token_for), "grant-partner-2", branchId=None, partnerId="icbc")
    assert "errors" not in window.redeem(this_one["code"])


def test_brute_force_is_refused(hub: LiveHub, token_for: Callable[..., str]) -> None:
    # given a real code, and a window allowed 6 attempts
    code = grant(resident(hub, token_for), "grant-brute-01")["code"]
    window, other = Window(hub, "icbc", ICBC), Window(hub, "ccb", CCB)
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 7)]
    # when it tries six wrong codes
    assert [codes(window.redeem(guess)) for guess in wrong] == [["NOT_FOUND"]] * 6
    # then even the right one is refused, and the code still works for nobody else's bank
    refused = window.redeem(code)
    assert codes(refused) == ["RATE_LIMITED"]
    assert refused["data"] is None
    # another partner has attempts of its own
    assert codes(other.redeem("000000")) == ["NOT_FOUND"]


def test_attempts_are_counted_across_replicas(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    database_url: str,
    clock: Clock,
    redis_url: str,  # noqa: F811
    prefix: str,  # noqa: F811
) -> None:
    # given two replicas on one database and one Redis, a window allowed 4 attempts
    shared = {
        "database_url": database_url, "consent_clock": clock, "redis_url": redis_url,
        "redis_prefix": prefix,
        "consent_redeem_attempts": BucketPolicy("consent-redeem", 4, 0.0001),
    }  # fmt: skip
    first = start_hub(**shared)
    code = grant(resident(first, token_for), "grant-replicas1")["code"]
    second = start_hub(**shared)  # once the first has filled the catalogue copy they share
    on_first, on_second = Window(first, "icbc", ICBC), Window(second, "icbc", ICBC)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    # when it spends two attempts on each replica
    tried = [codes(window.redeem(wrong)) for window in (on_first, on_second) * 2]
    # then the next, on either, is refused: one bucket for both
    assert tried == [["NOT_FOUND"]] * 4
    assert codes(on_second.redeem(code)) == ["RATE_LIMITED"]
    assert codes(on_first.redeem(code)) == ["RATE_LIMITED"]


def test_bad_grants(hub: LiveHub, token_for: Callable[..., str]) -> None:
    me = resident(hub, token_for)

    def refused(**changes: Any) -> dict[str, Any]:
        given = {"itemCode": ITEM, "bank": "ICBC", "branchId": ICBC_BRANCH,
                 "scopes": ["IDENTITY"], "idempotencyKey": "grant-bad-0001", **changes}  # fmt: skip
        answer = me(GRANT, input=given)
        assert answer["data"] is None
        error = answer["errors"][0]["extensions"]
        return {"code": error["code"], "field": error.get("field")}

    assert refused(minutes=16) == {"code": "BAD_USER_INPUT", "field": "minutes"}
    assert refused(minutes=0) == {"code": "BAD_USER_INPUT", "field": "minutes"}
    assert refused(scopes=[]) == {"code": "BAD_USER_INPUT", "field": "scopes"}
    assert refused(itemCode="NO-SUCH-ITEM") == {"code": "NOT_FOUND", "field": "itemCode"}
    assert refused(branchId=CCB_BRANCH) == {"code": "NOT_FOUND", "field": "branchId"}
    assert refused(partnerId="icbc") == {"code": "BAD_USER_INPUT", "field": "partnerId"}


INSTANT_ITEM = """query { services { items(first: 1, filter: {query: "应届毕业生落户", instant: true}) {
  edges { node { code localCode name instant } } } } }"""
MY_APPLICATIONS = "{ me { applications { itemCode decision { id outcome } } } }"


def test_a_window_files_an_instant_item_and_the_decision_comes_back(
    start_hub: Callable[..., LiveHub],
    database_url: str,
    clock: Clock,
    mocks: BackgroundMocks,
    token_for: Callable[..., str],
) -> None:
    # given a graduate (a hub resident) and a hub deciding 秒批 items on the registry's day
    as_of = httpx.get(f"{mocks.urls['population']}/__admin/cases").json()["as_of"]
    graduate = cases(mocks.urls["population"])["graduate_bachelor"]
    hub = start_hub(
        database_url=database_url, consent_clock=clock, approvals_today=as_of,
        approvals_budget_s=5.0, approvals_recheck_s=0.0,
    )  # fmt: skip
    found = hub.graphql(INSTANT_ITEM).json()["data"]["services"]["items"]["edges"]
    item = found[0]["node"]
    assert item["name"] == "应届毕业生落户" and item["instant"]
    me = resident(hub, token_for, graduate["resident_id"])
    granted = grant(me, "grant-instant-01", itemCode=item["localCode"])
    window = Window(hub, "icbc", ICBC)
    consent_id = window.redeem(granted["code"])["data"]["redeemConsent"]["id"]
    credentials = MockAdmin(mocks.urls["credentials"])
    credentials.reset()

    # when the window files it without the answer the item asks for: refused, nothing filed
    missing = window.file(consent_id, item=item["localCode"])
    assert errors_at(missing) == {"fileUnderConsent": ("BAD_USER_INPUT", None)}
    assert "certNo" in missing["errors"][0]["message"]
    listed = window.run("ConsentedApplications", consentId=consent_id)
    assert listed["data"]["partner"]["consent"]["applications"] == []
    assert credentials.total() == 0

    # when it files with the certificate number: the approval service decides, at once
    answers = {"certNo": graduate["cert_no"]}
    filed = window.file(consent_id, item=item["localCode"], answers=answers)
    assert "errors" not in filed, filed
    application = filed["data"]["fileUnderConsent"]["application"]
    assert application["state"] == "APPROVED" and application["reasons"] == []
    assert application["refusal"] is None and application["filedBy"] == "icbc"
    assert credentials.calls("POST /verify") == 1

    # a second filing under the consent (another key) is the first one, asked of no one again
    again = window.file(consent_id, item=item["localCode"], answers=answers)
    assert again["data"]["fileUnderConsent"]["application"] == application
    assert credentials.calls("POST /verify") == 1
    listed = window.run("ConsentedApplications", consentId=consent_id)
    assert listed["data"]["partner"]["consent"]["applications"] == [application]

    # and the resident sees the decision among their applications: one, the same
    mine = me(MY_APPLICATIONS)["data"]["me"]["applications"]
    assert [(a["itemCode"], a["decision"]["outcome"]) for a in mine] == [
        ("graduate_transfer", "APPROVED")
    ]
