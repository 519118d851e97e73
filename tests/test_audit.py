"""The audit log of personal-data access: one record per operation, a chain that shows tampering."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import Session, select

from hub.cli import main
from hub.store import audit
from hub.store.audit import SqlAuditLog, append_record, verify_chain
from hub.store.db import Database, create_tables, drop_tables, make_engine
from hub.store.models import AuditRecord
from schema import build_schema
from schema.context import AuditEntry
from tests.support import BackgroundMocks, LiveHub, MockAdmin
from tests.test_partners import ICBC, operations, token

URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])
CHINA = dt.timezone(dt.timedelta(hours=8))
MY_LOANS = "query MyLoans { me { library { loans { dueDate } } } }"
MY_NAME = "query MyName { me { name } }"
MIXED = "{ me { library { loans { dueDate } } } garbageSorting { categories { code } } }"
RENEW = """mutation Renew($barcode: String!) {
  renewLoan(input: { barcode: $barcode, idempotencyKey: "audit-renew-1" }) { userErrors { code } } }"""
ACCESS_LOG = """query Log($after: String) { me { dataAccessLog(first: 2, after: $after) {
  edges { cursor node { at principalKind principal operationName departments fields outcome } }
  pageInfo { hasNextPage hasPreviousPage endCursor } } } }"""
FRAGMENTS = """query Mine($skip: Boolean!) { ...Me garbageSorting { categories { code } } }
fragment Me on Query { who: me { __typename ... on Me { n: name }
  library @skip(if: $skip) { loans { dueDate } } } }"""
BORROW = """mutation Borrow($input: BarcodeInput!) { borrowBook(input: $input) { userErrors { code } } }"""
BOOK = """mutation Book($input: BookWindowAppointmentInput!) {
  bookWindowAppointment(input: $input) { appointment { number } userErrors { code } } }"""


@pytest.fixture(params=URLS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'audit.db'}"
        return
    url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'audit.db'}"


def records(url: str) -> list[AuditRecord]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return list(session.exec(select(AuditRecord).order_by(AuditRecord.seq)).all())
    finally:
        engine.dispose()


def execute(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def verify(
    url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    code = main(["audit", "verify"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def book(hub: LiveHub, resident_token: str, slot: str, key: str, day: str) -> str:
    booking = {"input": {
        "bank": "ICBC", "branchId": "4000106", "itemCode": "SB-0001", "date": day, "slot": slot,
        "mobile": "13912340000", "idempotencyKey": key,
    }}  # fmt: skip
    body = hub.graphql(BOOK, booking, token=resident_token).json()
    return str(body["data"]["bookWindowAppointment"]["appointment"]["number"])


def test_a_residents_read_appends_one_record_with_no_values(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    # given a hub with an empty log
    hub = start_hub(database_url=sqlite_url)
    # when a resident reads their loans
    body = hub.graphql(MY_LOANS, token=token_for("R000001")).json()
    # then one record says who read whose loans, through which department, and nothing else
    loans = body["data"]["me"]["library"]["loans"]
    assert loans and "errors" not in body
    [record] = records(sqlite_url)
    assert (record.seq, record.principal_kind, record.principal) == (1, "resident", "R000001")
    assert json.loads(record.subjects) == ["R000001"]
    assert (record.operation_name, record.outcome) == ("MyLoans", "ok")
    assert record.document_hash == hashlib.sha256(MY_LOANS.encode()).hexdigest()
    assert json.loads(record.departments) == ["library"]
    assert json.loads(record.fields) == [
        "me",
        "me.library",
        "me.library.loans",
        "me.library.loans.dueDate",
    ]
    stored = json.dumps(record.model_dump(exclude={"at"}), default=str)
    assert not any(loan["dueDate"] in stored for loan in loans)


def test_aliases_do_not_hide_a_personal_field(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    hub = start_hub(database_url=sqlite_url)
    hub.graphql("{ who: me { n: name } }", token=token_for("R000002"))
    [record] = records(sqlite_url)
    assert json.loads(record.fields) == ["me", "me.name"]


def test_fragments_and_skipped_fields_are_followed(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    hub = start_hub(database_url=sqlite_url)
    resident = token_for("R000001")
    # a named fragment, an inline one, an alias, __typename, and a field skipped
    hub.graphql(FRAGMENTS, {"skip": True}, token=resident)
    # the same operation with the field included: its list and what each item returned
    hub.graphql(FRAGMENTS, {"skip": False}, token=resident)
    skipped, included = records(sqlite_url)
    assert json.loads(skipped.fields) == ["me", "me.name"]
    assert json.loads(included.fields) == [
        "me",
        "me.library",
        "me.library.loans",
        "me.library.loans.dueDate",
        "me.name",
    ]
    assert json.loads(included.subjects) == ["R000001"]


def test_a_mutation_that_failed_is_logged_as_attempted(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    # given a hub with an empty log
    hub = start_hub(database_url=sqlite_url)
    # when a resident's borrow fails in its resolver (a bad idempotency key: no data at all)
    body = hub.graphql(
        BORROW, {"input": {"barcode": "044000100001", "idempotencyKey": "short"}},
        token=token_for("R000214"),
    ).json()  # fmt: skip
    assert body["data"] is None and body["errors"][0]["path"] == ["borrowBook"]
    # then it is logged for the resident, as an error that returned nothing
    [record] = records(sqlite_url)
    assert json.loads(record.subjects) == ["R000214"]
    assert (record.operation_name, record.outcome, record.fields) == ("Borrow", "error", "[]")
    # and a mutation refused before it ran (validation) is not
    refused = hub.graphql(
        "mutation { borrowBook(input: {}) { userErrors { code } } }", token=token_for("R000214")
    ).json()
    assert refused["errors"] and len(records(sqlite_url)) == 1


def test_no_extension_wraps_every_resolver() -> None:
    # a ``resolve`` hook makes strawberry wrap every resolver of every operation in it
    schema = build_schema()
    extensions = schema.get_extensions()
    assert extensions
    assert [type(e).__name__ for e in extensions if e._implements_resolve()] == []
    assert schema._get_middleware_manager(extensions)._middleware_resolvers is None


def test_public_queries_append_nothing(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    hub = start_hub(database_url=sqlite_url)
    assert "data" in hub.graphql("{ garbageSorting { categories { code } } }").json()
    resident = token_for("R000001")
    assert "data" in hub.graphql("{ bankWindows { items { code } } }", token=resident).json()
    refused = hub.graphql(MY_NAME).json()  # no token: nobody's data was read
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert records(sqlite_url) == []


def test_a_banks_appointment_list_names_the_applicants(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    # given two residents who booked at ICBC, each logged for their own booking
    hub = start_hub(database_url=sqlite_url)
    day = (dt.datetime.now(CHINA).date() + dt.timedelta(days=10)).isoformat()
    book(hub, token_for("R000402"), "09:30-10:00", "audit-partner-R000402", day)
    book(hub, token_for("R000403"), "10:00-10:30", "audit-partner-R000403", day)
    bookings = records(sqlite_url)
    assert [(r.principal, json.loads(r.subjects)) for r in bookings] == [
        ("R000402", ["R000402"]),
        ("R000403", ["R000403"]),
    ]
    assert "bookWindowAppointment.appointment.number" in json.loads(bookings[0].fields)
    # when ICBC's window system lists that day's appointments
    answer = hub.client.post(
        "/graphql",
        json={
            "documentId": f"sha256:{operations('icbc')['AppointmentsOfDay']}",
            "variables": {"date": day},
        },
        headers={"Authorization": f"Bearer {token(hub, ICBC)}"},
    ).json()
    assert len(answer["data"]["partner"]["appointments"]) == 2
    # then one record names the bank as principal and both applicants as subjects
    listing = records(sqlite_url)[-1]
    assert (listing.principal_kind, listing.principal) == ("partner", "icbc")
    assert json.loads(listing.subjects) == ["R000402", "R000403"]
    assert listing.operation_name == "AppointmentsOfDay"
    assert listing.document_hash == operations("icbc")["AppointmentsOfDay"]
    assert "icbc" in json.loads(listing.departments)
    fields = json.loads(listing.fields)
    assert {"partner.appointments.applicant", "partner.appointments.applicant.idNumber"} <= set(
        fields
    )
    # and each resident sees the bank's look in their own log
    log = hub.graphql(ACCESS_LOG, token=token_for("R000402")).json()
    newest = log["data"]["me"]["dataAccessLog"]["edges"][0]["node"]
    assert (newest["principalKind"], newest["principal"]) == ("partner", "icbc")
    assert newest["operationName"] == "AppointmentsOfDay" and newest["outcome"] == "OK"


def test_housemates_are_subjects_when_the_household_is_read(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    hub = start_hub(database_url=sqlite_url)
    hub.graphql("{ me { household { members { name } } } }", token=token_for("R000003"))
    [record] = records(sqlite_url)
    assert json.loads(record.subjects) == ["R000003", "R000004"]


def test_verify_names_the_first_broken_record(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given five records
    hub = start_hub(database_url=database_url)
    for resident in ("R000001", "R000002", "R000003", "R000004", "R000005"):
        hub.graphql(MY_NAME, token=token_for(resident))
    assert verify(database_url, monkeypatch, capsys) == (0, "audit chain intact: 5 records\n")
    # when a record is edited, then verify names it
    execute(database_url, "UPDATE audit_record SET principal = 'R000999' WHERE seq = 4")
    code, said = verify(database_url, monkeypatch, capsys)
    assert code == 1 and "record 4:" in said
    # when an earlier one is deleted, then verify names the gap first
    execute(database_url, "DELETE FROM audit_record WHERE seq = 2")
    code, said = verify(database_url, monkeypatch, capsys)
    assert code == 1 and "record 2: missing" in said


def test_verify_sees_a_removed_last_record(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hub = start_hub(database_url=sqlite_url)
    for _ in range(3):
        hub.graphql(MY_NAME, token=token_for("R000001"))
    execute(sqlite_url, "DELETE FROM audit_record WHERE seq = 3")
    code, said = verify(sqlite_url, monkeypatch, capsys)
    assert code == 1 and "record 3: missing" in said


def test_concurrent_requests_on_two_replicas_keep_one_chain(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], database_url: str
) -> None:
    # given two replicas on one database
    replicas = [start_hub(database_url=database_url), start_hub(database_url=database_url)]
    residents = [f"R{n:06d}" for n in range(10, 30)]
    # when 20 residents read at once, spread over both
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(
            pool.map(
                lambda i: replicas[i % 2].graphql(MY_NAME, token=token_for(residents[i])).json(),
                range(20),
            )
        )
    # then every answer was logged, in one unbroken chain
    assert all(a["data"]["me"]["name"] for a in answers)
    engine = make_engine(database_url)
    try:
        assert verify_chain(engine) == (20, None)
    finally:
        engine.dispose()
    assert sorted(r.principal for r in records(database_url)) == residents


def test_appends_from_many_threads_stay_linear(database_url: str) -> None:
    # the database lock alone (FOR UPDATE / BEGIN IMMEDIATE), without the in-process lock
    engine = make_engine(database_url)
    create_tables(engine)

    def append(n: int) -> int:
        with Session(engine) as session:
            return append_record(session, _entry(f"R{n:06d}"))

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            seqs = list(pool.map(append, range(40)))
        assert sorted(seqs) == list(range(1, 41))
        assert verify_chain(engine) == (40, None)
    finally:
        engine.dispose()


T = TypeVar("T")


class CountingDatabase(Database):
    """Counts the transactions the audit log runs: its writer's, and any ``run``."""

    session_runs = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        self.session_runs += 1
        return await super().run(work)

    @property
    def runs(self) -> int:
        return self.session_runs + (self._writer.transactions if self._writer else 0)


def test_concurrent_appends_share_transactions_and_stay_one_chain(database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine)
    database = CountingDatabase(engine)
    log = SqlAuditLog(database)
    residents = [f"R{n:06d}" for n in range(100, 150)]

    async def append_all() -> None:
        await asyncio.gather(*(log.append(_entry(r)) for r in residents))

    try:
        # when 50 requests append at once
        asyncio.run(append_all())
        # then all 50 are linked in one chain, committed in fewer transactions than records
        assert verify_chain(engine) == (50, None)
        assert [r.principal for r in records(database_url)] == residents  # in arrival order
        assert 1 <= database.runs < 50
        # and the next append links to them
        asyncio.run(log.append(_entry("R000200")))
        assert verify_chain(engine) == (51, None)
    finally:
        database.close()
        engine.dispose()


def test_a_failed_transaction_fails_every_append_in_it(database_url: str) -> None:
    engine = make_engine(database_url)
    create_tables(engine)
    database = CountingDatabase(engine)
    log = SqlAuditLog(database)
    # given a log whose subject index is gone (the transaction fails at the database)
    execute(database_url, "DROP TABLE audit_subject")

    async def append_five() -> list[BaseException | None]:
        entries = [_entry(f"R{n:06d}") for n in range(300, 305)]
        return await asyncio.gather(*(log.append(e) for e in entries), return_exceptions=True)

    try:
        # when five requests append at once, then every one of them fails
        outcomes = asyncio.run(append_five())
        assert all(isinstance(outcome, Exception) for outcome in outcomes)
        assert database.runs == 1
        assert verify_chain(engine) == (0, None)  # nothing of the batch was kept
        # and once the table is back, the next append succeeds, first in the chain
        create_tables(engine)
        asyncio.run(log.append(_entry("R000305")))
        assert verify_chain(engine) == (1, None)
        assert [r.principal for r in records(database_url)] == ["R000305"]
    finally:
        database.close()
        engine.dispose()


def test_the_writer_and_a_session_store_the_same_rows(database_url: str) -> None:
    # the writer's own statements (the hot path) and SQLAlchemy's (append_record) interleave
    engine = make_engine(database_url)
    create_tables(engine)
    database = Database(engine)
    log = SqlAuditLog(database)
    consented = AuditEntry(**{**_entry("R000501").__dict__, "principal_kind": "partner",
                              "principal": "icbc", "consents": ("C0123456789abcdef",)})  # fmt: skip
    try:
        # when the writer makes the chain's head and first records, then a session appends
        asyncio.run(log.append(_entry("R000500")))
        asyncio.run(log.append(consented))
        with Session(engine) as session:
            append_record(session, _entry("R000502"))
        asyncio.run(log.append(_entry("R000503")))
        # then it is one chain, and the rows of either path read back alike
        assert verify_chain(engine) == (4, None)
        rows = records(database_url)
        assert [r.principal for r in rows] == ["R000500", "icbc", "R000502", "R000503"]
        assert [r.consents for r in rows] == [None, '["C0123456789abcdef"]', None, None]
        assert len({r.at.tzinfo for r in rows}) == 1  # stored as SQLAlchemy stores them
        assert [r.at for r in rows] == sorted(r.at for r in rows)
        assert rows[0].hash == _hash_before_consents(rows[0])
    finally:
        database.close()
        engine.dispose()


@pytest.mark.skipif(
    not os.environ.get("HUB_TEST_DATABASE_URL"), reason="needs PostgreSQL (HUB_TEST_DATABASE_URL)"
)
def test_the_writer_reconnects_when_its_connection_was_cut() -> None:
    url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    create_tables(engine)
    database = Database(engine)
    log = SqlAuditLog(database)
    try:
        asyncio.run(log.append(_entry("R000600")))
        # when the database ends the writer's connection (a restart, an idle timeout)
        backend = database.writer._connection.dbapi_connection.info.backend_pid
        execute(url, f"SELECT pg_terminate_backend({int(backend)})")
        # then the next append is written on a new connection, and the chain goes on
        asyncio.run(log.append(_entry("R000601")))
        assert verify_chain(engine) == (2, None)
        assert database.writer._connection.dbapi_connection.info.backend_pid != backend
    finally:
        database.close()
        engine.dispose()


def test_a_cancelled_append_is_still_written(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    create_tables(engine)
    database = Database(engine)
    log = SqlAuditLog(database)

    async def cancel_one() -> None:
        waiting = asyncio.create_task(log.append(_entry("R000400")))
        await asyncio.sleep(0)  # it has queued its record and is waiting
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await log.append(_entry("R000401"))  # written after the cancelled one's

    try:
        asyncio.run(cancel_one())
        assert verify_chain(engine) == (2, None)
        assert [r.principal for r in records(sqlite_url)] == ["R000400", "R000401"]
    finally:
        database.close()
        engine.dispose()


def test_no_record_no_data(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given a hub whose audit table is gone (the writer fails at the database, for real)
    database = tmp_path / "audit.db"
    hub = start_hub(database_url=f"sqlite:///{database}")
    resident = token_for("R000001")
    loans = hub.graphql(MY_LOANS, token=resident).json()["data"]["me"]["library"]["loans"]
    with sqlite3.connect(database) as db:
        db.execute("DROP TABLE audit_record")
    # when the resident reads their loans again, with public data in the same operation
    with caplog.at_level(logging.ERROR, logger="ihub.audit"):
        response = hub.graphql(MIXED, token=resident)
    # then nothing personal comes back, only an internal error where it would have been
    body = response.json()
    assert response.status_code == 200
    assert body["data"]["me"] is None and body["data"]["garbageSorting"]["categories"]
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["me"], "INTERNAL_SERVER_ERROR")
    ]
    assert not any(loan["dueDate"] in response.text for loan in loans)
    assert "personal data withheld" in caplog.text
    # and a mutation's answer (a non-null root) is withheld with all of data
    renewed = hub.graphql(RENEW, {"barcode": "049999999999"}, token=resident).json()
    assert renewed["data"] is None
    assert renewed["errors"][0]["extensions"]["code"] == "INTERNAL_SERVER_ERROR"


def test_the_access_log_pages_newest_first(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], sqlite_url: str
) -> None:
    # given five reads of the resident's name, and one of someone else's
    hub = start_hub(database_url=sqlite_url)
    resident = token_for("R000007")
    for _ in range(5):
        hub.graphql(MY_NAME, token=resident)
    hub.graphql(MY_NAME, token=token_for("R000008"))
    # when the resident pages through their log two at a time
    pages, after = [], None
    while True:
        body = hub.graphql(ACCESS_LOG, {"after": after}, token=resident).json()
        log = body["data"]["me"]["dataAccessLog"]
        pages.append(log)
        if not log["pageInfo"]["hasNextPage"]:
            break
        after = log["pageInfo"]["endCursor"]
    # then they see their own five reads, newest first, in pages of two, and nobody else's
    # (reading the log is logged too, but after the page is answered: it never shifts a page)
    assert [len(p["edges"]) for p in pages] == [2, 2, 1]
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True, True]
    nodes = [e["node"] for p in pages for e in p["edges"]]
    assert {(n["principal"], n["operationName"], n["outcome"]) for n in nodes} == {
        ("R000007", "MyName", "OK")
    }
    assert all(n["fields"] == ["me", "me.name"] and n["departments"] == [] for n in nodes)
    times = [dt.datetime.fromisoformat(n["at"]) for n in nodes]
    assert times == sorted(times, reverse=True)
    bad = hub.graphql(ACCESS_LOG, {"after": "bm90LWEtY3Vyc29y"}, token=resident).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _entry(resident_id: str) -> AuditEntry:
    return AuditEntry(
        request_id="test",
        principal_kind="resident",
        principal=resident_id,
        subjects=(resident_id,),
        operation_name="Test",
        document_hash="0" * 64,
        departments=(),
        fields=("me", "me.name"),
        outcome="ok",
    )


def _hash_before_consents(record: AuditRecord) -> str:
    """The hash as the hub computed it before records could carry consents (no such key)."""
    fields = {
        "seq": record.seq,
        "at": record.at.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "request_id": record.request_id,
        "principal_kind": record.principal_kind,
        "principal": record.principal,
        "subjects": json.loads(record.subjects),
        "operation_name": record.operation_name,
        "document_hash": record.document_hash,
        "departments": json.loads(record.departments),
        "fields": json.loads(record.fields),
        "outcome": record.outcome,
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((canonical + record.prev_hash).encode()).hexdigest()


def test_records_with_and_without_consents_verify_on_an_upgraded_database(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a database of the version before consents: no `consents` column, two records
    engine = make_engine(database_url)
    create_tables(engine)
    with Session(engine) as session:
        append_record(session, _entry("R000001"))
        append_record(session, _entry("R000002"))
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE audit_record DROP COLUMN consents"))
    engine.dispose()
    # then `ihub audit verify` reads it as it is, without upgrading it
    assert verify(database_url, monkeypatch, capsys) == (0, "audit chain intact: 2 records\n")
    # when the hub upgrades it and appends a record made under a consent
    engine = make_engine(database_url)
    create_tables(engine)
    partner = AuditEntry(**{**_entry("R000003").__dict__, "principal_kind": "partner",
                            "principal": "icbc", "consents": ("C0123456789abcdef",)})  # fmt: skip
    with Session(engine) as session:
        append_record(session, partner)
    engine.dispose()
    # then the old records kept the hash of the old rule, and the whole chain verifies
    old, _, new = records(database_url)
    assert old.consents is None and old.hash == _hash_before_consents(old)
    assert new.consents == '["C0123456789abcdef"]' and new.hash != _hash_before_consents(new)
    assert verify(database_url, monkeypatch, capsys) == (0, "audit chain intact: 3 records\n")
    # and the consent is part of what the hash covers
    execute(
        database_url, "UPDATE audit_record SET consents = '[\"C0000000000000000\"]' WHERE seq = 3"
    )
    code, said = verify(database_url, monkeypatch, capsys)
    assert code == 1 and "record 3:" in said


def test_a_repeated_document_records_only_what_each_request_returned(
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    sqlite_url: str,
    mocks: BackgroundMocks,
) -> None:
    # given a hub that has run one document (its personal fields are remembered per document)
    hub = start_hub(database_url=sqlite_url)
    document = "query TwoParts { me { name library { loans { dueDate } } } }"
    token = token_for("R000001")
    assert "errors" not in hub.graphql(document, token=token).json()
    # when the same document runs again with the library down
    library = MockAdmin(mocks.urls["library"])
    library.faults(down=True)
    try:
        failed = hub.graphql(document, token=token).json()
    finally:
        library.clear_faults()
    assert failed["errors"] and failed["data"]["me"]["name"]
    # then each record names the fields its own request returned, and nothing of the other's
    first, second = records(sqlite_url)
    assert json.loads(first.fields) == [
        "me",
        "me.library",
        "me.library.loans",
        "me.library.loans.dueDate",
        "me.name",
    ]
    assert json.loads(second.fields) == ["me", "me.library", "me.name"]  # loans: null
    assert (first.outcome, second.outcome) == ("ok", "partial")


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
_LISTS = st.lists(_TEXT, max_size=6).map(lambda values: sorted(set(values)))


@settings(max_examples=400, deadline=None)
@given(
    seq=st.integers(min_value=1, max_value=2**63 - 1),
    at=st.datetimes(timezones=st.just(dt.UTC)),
    strings=st.fixed_dictionaries(
        {
            "request_id": st.none() | _TEXT,
            "principal_kind": _TEXT,
            "principal": _TEXT,
            "operation_name": st.none() | _TEXT,
            "document_hash": st.none() | _TEXT,
            "outcome": _TEXT,
        }
    ),
    lists=st.fixed_dictionaries(
        {"subjects": _LISTS, "departments": _LISTS, "fields": _LISTS},
        optional={"consents": _LISTS},
    ),
)
def test_the_canonical_json_is_the_one_the_chain_began_with(
    seq: int, at: dt.datetime, strings: dict[str, str | None], lists: dict[str, list[str]]
) -> None:
    # records hashed since the chain began were hashed with json.dumps: a record's canonical
    # form, and the stored lists, must stay byte for byte what json.dumps wrote, any text in them
    fields = {"seq": seq, "at": at, **strings, **lists}
    reference = json.dumps(
        {**fields, "at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    assert audit._canonical_json(fields) == reference
    for values in lists.values():
        assert audit._json(values) == json.dumps(values, separators=(",", ":"), ensure_ascii=False)
