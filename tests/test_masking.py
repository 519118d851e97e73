"""Masking: ID numbers and mobiles never leave the hub in full — not to partners, not to logs,
not into the hub's own tables."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.store.db import make_engine
from hub.store.models import Resident
from schema.context import CallerKind, Principal
from schema.masking import Identifier, mask_id_number, mask_mobile, may_see_in_full, shown
from tests.support import LiveHub
from tests.test_partners import ICBC, operations, token

CHINA = dt.timezone(dt.timedelta(hours=8))
MOBILE = "13987654321"
BOOK = """mutation Book($input: BookWindowAppointmentInput!) {
  bookWindowAppointment(input: $input) { appointment { number } userErrors { code } } }"""
PRINCIPALS = [
    Principal.anonymous(),
    Principal.resident("R000001"),
    Principal.partner("icbc", "icbc"),
    Principal(CallerKind.RESIDENT, resident_id="R000001", partner_id="icbc", partner_bank="icbc"),
]


def booking(resident: str, *, slot: str, mobile: object = MOBILE) -> dict[str, object]:
    day = (dt.datetime.now(CHINA).date() + dt.timedelta(days=11)).isoformat()
    return {"input": {
        "bank": "ICBC", "branchId": "4000107", "itemCode": "SB-0001", "date": day, "slot": slot,
        "mobile": mobile, "idempotencyKey": f"masking-{resident}-{slot}",
    }}  # fmt: skip


def table_text(url: str, *tables: str) -> str:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = [
                row
                for table in tables
                for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            ]
    finally:
        engine.dispose()
    return "\n".join(repr(tuple(row)) for row in rows)


def id_number_of(url: str, resident_id: str) -> tuple[str, str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                text("SELECT id_number, name FROM resident WHERE id = :id"), {"id": resident_id}
            ).one()
    finally:
        engine.dispose()
    assert Resident.__tablename__ == "resident"
    return str(found[0]), str(found[1])


def test_masks_keep_only_the_ends() -> None:
    assert mask_id_number("440303199001011234") == "4403**********1234"
    assert mask_mobile("13812345678") == "138****5678"
    assert mask_mobile("12345") == "*****"


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.kind.value)
def test_no_principal_sees_identifiers_in_full_yet(principal: Principal) -> None:
    for identifier in Identifier:
        assert may_see_in_full(principal, identifier) is False
    assert shown(principal, Identifier.ID_NUMBER, "440303199001011234") == "4403**********1234"
    assert shown(principal, Identifier.MOBILE, "13812345678") == "138****5678"


def test_a_booking_leaves_no_mobile_in_logs_or_tables(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given every logger at DEBUG
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'masking.db'}"
    hub = start_hub(database_url=url)
    resident = token_for("R000405")
    id_number, _ = id_number_of(url, "R000405")
    # when the resident books (and, twice, gets the mobile wrong)
    booked = hub.graphql(BOOK, booking("R000405", slot="11:00-11:30"), token=resident).json()
    assert booked["data"]["bookWindowAppointment"]["appointment"]["number"]
    wrong = hub.graphql(BOOK, booking("R000405", slot="11:30-12:00", mobile=MOBILE[:-1] + "x"),
                        token=resident).json()  # fmt: skip
    assert wrong["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    hub.graphql(BOOK, booking("R000405", slot="11:30-12:00", mobile=int(MOBILE)), token=resident)
    # then neither the mobile nor the ID number is in any log line of the hub
    hub_lines = [r for r in caplog.records if not r.name.startswith(("mocks", "aiohttp.access"))]
    assert hub_lines, "DEBUG logging was on"
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in hub_lines)
    assert MOBILE not in logged and id_number not in logged
    # nor in the idempotency record (its fingerprint is a hash) or the audit log
    stored = table_text(url, "idempotency_record", "audit_record")
    assert "bookWindowAppointment" in stored
    assert MOBILE not in stored and id_number not in stored


def test_a_bank_sees_no_full_identifier(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a resident's booking at ICBC
    caplog.set_level(logging.DEBUG)
    url = f"sqlite:///{tmp_path / 'masking.db'}"
    hub = start_hub(database_url=url)
    booked = hub.graphql(
        BOOK, booking("R000406", slot="12:00-12:30"), token=token_for("R000406")
    ).json()
    assert booked["data"]["bookWindowAppointment"]["appointment"]["number"]
    id_number, name = id_number_of(url, "R000406")
    # when ICBC lists the day's appointments
    day = booking("R000406", slot="12:00-12:30")["input"]["date"]  # type: ignore[index]
    response = hub.client.post(
        "/graphql",
        json={
            "documentId": f"sha256:{operations('icbc')['AppointmentsOfDay']}",
            "variables": {"date": day},
        },
        headers={"Authorization": f"Bearer {token(hub, ICBC)}"},
    )
    # then it sees the applicant masked, and never the ID number, name or mobile in full
    [applicant] = [a["applicant"] for a in response.json()["data"]["partner"]["appointments"]]
    assert applicant == {
        "name": name[0] + "*" * (len(name) - 1),
        "idNumber": mask_id_number(id_number),
    }
    for secret in (id_number, name, MOBILE, "R000406"):
        assert secret not in response.text
    assert id_number not in caplog.text and MOBILE not in caplog.text
    assert id_number not in table_text(url, "audit_record")


def test_access_log_lines_never_carry_the_query_string() -> None:
    import logging

    from hub.logs import DropQueryStrings, JsonFormatter

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", '/graphql?variables={"mobile":"13912345678"}', "1.1", 200), None,
    )  # fmt: skip
    assert DropQueryStrings().filter(record)
    line = JsonFormatter().format(record)
    assert json.loads(line)["message"] == '127.0.0.1:5000 - "GET /graphql HTTP/1.1" 200'
    assert "13912345678" not in line and "variables" not in line
