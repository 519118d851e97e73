"""Partners: hub-issued credentials, trusted documents bound to the partner, masked data."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from hub.security.auth import DevKeys
from tests.support import LiveHub

REPO = Path(__file__).resolve().parent.parent
CHINA = dt.timezone(dt.timedelta(hours=8))
ICBC = {"client_id": "icbc-window-dev", "client_secret": "dev-icbc-partner-secret"}
CCB = {"client_id": "ccb-window-dev", "client_secret": "dev-ccb-partner-secret"}


def operations(partner: str) -> dict[str, str]:
    manifest = json.loads((REPO / "partners" / f"{partner}.manifest.json").read_text())
    return {op["name"]: op["id"] for op in manifest["operations"]}


def token(hub: LiveHub, credentials: dict[str, str]) -> str:
    response = hub.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **credentials}
    )
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    return str(body["access_token"])


def run(hub: LiveHub, bearer: str | None, **body: Any) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = hub.client.post("/graphql", json=body, headers=headers)
    return dict(response.json())


def code(answer: dict[str, Any]) -> str:
    return str(answer["errors"][0]["extensions"]["code"])


def test_client_credentials(hub: LiveHub) -> None:
    assert token(hub, ICBC)
    basic = base64.b64encode(b"ccb-window-dev:dev-ccb-partner-secret").decode()
    response = hub.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    wrong = hub.client.post(
        "/oauth/token", data={"grant_type": "client_credentials", **ICBC, "client_secret": "guess"}
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    grant = hub.client.post("/oauth/token", data={"grant_type": "password", **ICBC})
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")


@pytest.mark.parametrize(
    "content_type",
    [
        "Application/X-WWW-Form-Urlencoded",
        "application/x-www-form-urlencoded; charset=UTF-8",
        "APPLICATION/X-WWW-FORM-URLENCODED ;charset=utf-8",
    ],
)
def test_the_form_media_type_is_case_insensitive_and_takes_parameters(
    hub: LiveHub, content_type: str
) -> None:
    body = "grant_type=client_credentials&client_id={client_id}&client_secret={client_secret}"
    response = hub.client.post(
        "/oauth/token", content=body.format(**ICBC), headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_a_body_that_is_not_a_form_is_an_invalid_request(hub: LiveHub) -> None:
    response = hub.client.post("/oauth/token", json={"grant_type": "client_credentials", **ICBC})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_a_bank_runs_its_operations_by_id(hub: LiveHub) -> None:
    bearer, ops = token(hub, ICBC), operations("icbc")
    items = run(hub, bearer, documentId=f"sha256:{ops['GovItems']}")
    assert items["data"]["bankWindows"]["items"] and "errors" not in items
    branches = run(
        hub,
        bearer,
        extensions={"persistedQuery": {"version": 1, "sha256Hash": ops["OwnBranchQueues"]}},
    )
    nodes = [e["node"] for e in branches["data"]["bankWindows"]["branches"]["edges"]]
    assert len(nodes) == 10 and all(n["queue"] for n in nodes)


def test_ids_only_refuses_an_ad_hoc_document(hub: LiveHub) -> None:
    answer = run(hub, token(hub, ICBC), query="{ bankWindows { items { code } } }")
    assert code(answer) == "PERSISTED_QUERY_NOT_ALLOWED"
    assert "data" not in answer


def test_another_partners_document_is_not_allowed(hub: LiveHub) -> None:
    answer = run(hub, token(hub, CCB), documentId=f"sha256:{operations('icbc')['GovItems']}")
    assert code(answer) == "PERSISTED_QUERY_NOT_ALLOWED"


def test_no_token_or_an_expired_one_is_unauthenticated(hub: LiveHub, var_dir: Path) -> None:
    document = f"sha256:{operations('icbc')['GovItems']}"
    assert code(run(hub, None, documentId=document)) == "UNAUTHENTICATED"
    keys = DevKeys.load_or_create(var_dir / "keys")
    now = int(time.time())
    claims = {
        "sub": "partner:icbc",
        "iss": "ihub",
        "aud": "ihub-partner",
        "iat": now - 7200,
        "exp": now - 3600,
        "bank": "icbc",
    }
    stale = jwt.encode(claims, keys.private_pem, algorithm="RS256", headers={"kid": keys.kid})
    answer = run(hub, stale, documentId=document)
    assert code(answer) == "UNAUTHENTICATED" and "expired" in answer["errors"][0]["message"]


def test_a_forged_bank_claim_does_not_verify(hub: LiveHub) -> None:
    bearer = token(hub, CCB)
    head, payload, signature = bearer.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["bank"], claims["sub"] = "icbc", "partner:icbc"
    forged = ".".join(
        [
            head,
            base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(),
            signature,
        ]
    )
    assert (
        code(run(hub, forged, documentId=f"sha256:{operations('icbc')['GovItems']}"))
        == "UNAUTHENTICATED"
    )


def test_a_resident_cannot_use_the_partner_view(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    answer = run(
        hub,
        token_for("R000001"),
        query='{ partner { appointments(date: "2026-12-01") { applicant { name } } } }',
    )
    assert code(answer) == "FORBIDDEN"


def test_a_partner_calling_me_is_told_me_is_for_residents(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    from sqlmodel import Session

    from hub.security.partners import add_partner
    from hub.store.db import create_tables, make_engine

    url = f"sqlite:///{tmp_path / 'me.db'}"
    engine = make_engine(url)
    create_tables(engine)
    with Session(engine) as session:  # a partner whose unknown documents run (and are logged)
        client_id, secret = add_partner(session, "kiosk", name="Kiosk", mode="log_unknown")
    engine.dispose()
    hub = start_hub(database_url=url)
    bearer = token(hub, {"client_id": client_id, "client_secret": secret})
    answer = run(hub, bearer, query="{ me { name } }")
    assert answer["data"] == {"me": None}, answer
    error = answer["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "for residents" in error["message"] and "`me`" in error["message"]
    assert "no bearer token" not in error["message"]


def test_banks_see_their_own_appointments_with_the_applicant_masked(
    hub: LiveHub, token_for: Callable[..., str]
) -> None:
    # given a resident who booked at ICBC
    day = (dt.datetime.now(CHINA).date() + dt.timedelta(days=9)).isoformat()
    booking = {"input": {
        "bank": "ICBC", "branchId": "4000103", "itemCode": "SB-0001", "date": day, "slot": "14:30-15:00",
        "mobile": "13912345678", "idempotencyKey": "partner-view-R000401",
    }}  # fmt: skip
    booked = run(
        hub,
        token_for("R000401"),
        query="mutation($input: BookWindowAppointmentInput!) { bookWindowAppointment(input: $input) { appointment { number } userErrors { code } } }",
        variables=booking,
    )
    number = booked["data"]["bookWindowAppointment"]["appointment"]["number"]
    day_ops = {"variables": {"date": day}}
    # when each bank asks for that day's appointments
    icbc = run(
        hub,
        token(hub, ICBC),
        documentId=f"sha256:{operations('icbc')['AppointmentsOfDay']}",
        **day_ops,
    )
    ccb = run(
        hub,
        token(hub, CCB),
        documentId=f"sha256:{operations('ccb')['AppointmentsOfDay']}",
        **day_ops,
    )
    # then ICBC sees it, masked, and CCB does not
    mine = [
        a for a in icbc["data"]["partner"]["appointments"] if a["appointment"]["number"] == number
    ]
    assert len(mine) == 1
    applicant = mine[0]["applicant"]
    assert applicant["name"][0] != "*" and set(applicant["name"][1:]) == {"*"}
    assert applicant["idNumber"].startswith("4403") and applicant["idNumber"][4:14] == "*" * 10
    assert number not in json.dumps(ccb)
    assert "R000401" not in json.dumps(icbc)


@pytest.mark.parametrize("mode", ["allowlist", "log_unknown"])
def test_other_modes(start_hub: Callable[..., LiveHub], tmp_path: Path, mode: str) -> None:
    from sqlmodel import Session

    from hub.security.manifests import register
    from hub.security.partners import add_partner
    from hub.store.db import create_tables, make_engine
    from schema import build_schema

    url = f"sqlite:///{tmp_path / 'modes.db'}"
    engine = make_engine(url)
    create_tables(engine)
    body = "query Categories { garbageSorting { categories { code } } }"
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": [
        {"id": hashlib.sha256(body.encode()).hexdigest(), "name": "Categories", "type": "query", "body": body}
    ]}  # fmt: skip
    with Session(engine) as session:
        client_id, secret = add_partner(session, "mall", name="Mall kiosk", mode=mode)
        register(session, "mall", json.dumps(manifest).encode(), build_schema()._schema)
    hub = start_hub(database_url=url)
    bearer = token(hub, {"client_id": client_id, "client_secret": secret})
    assert "data" in run(hub, bearer, query=body), "a manifest document sent in full"
    unknown = run(hub, bearer, query='{ garbageSorting { classify(item: "电池") { query } } }')
    if mode == "allowlist":
        assert code(unknown) == "PERSISTED_QUERY_NOT_ALLOWED"
    else:
        assert unknown["data"]["garbageSorting"]["classify"]["query"] == "电池"


def test_a_manifest_stops_working_when_it_expires(
    start_hub: Callable[..., LiveHub], tmp_path: Path
) -> None:
    import sqlite3

    database = tmp_path / "expiry.db"
    hub = start_hub(database_url=f"sqlite:///{database}")
    document = f"sha256:{operations('icbc')['GovItems']}"
    assert "data" in run(hub, token(hub, ICBC), documentId=document)
    with sqlite3.connect(database) as db:
        db.execute(
            "UPDATE partner_manifest SET not_after = '2020-01-01 00:00:00' WHERE partner_id = 'icbc'"
        )
    later = start_hub(database_url=f"sqlite:///{database}")  # a fresh replica: no cached manifest
    assert (
        code(run(later, token(later, ICBC), documentId=document)) == "PERSISTED_QUERY_NOT_ALLOWED"
    )
