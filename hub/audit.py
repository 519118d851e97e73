"""``schema.context.AuditLog`` in the hub's database: a hash chain of who read whose data.

Every record carries ``prev_hash`` (the record before it) and ``hash`` = SHA-256 of its
canonical JSON plus ``prev_hash``; the chain head row keeps the last ``seq`` and ``hash``.
Appends are serialised so the chain stays linear with concurrent requests and replicas:

- PostgreSQL: one transaction that takes the head row ``SELECT … FOR UPDATE``; a replica's
  append waits for the one before it to commit, then links to it.
- SQLite: one writer at a time anyway; ``BEGIN IMMEDIATE`` takes the write lock before the
  head is read (so another process cannot read the same head), and an in-process lock keeps
  this process's appends from spinning on each other's busy lock.

``verify_chain`` recomputes everything and names the first broken record.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from hub.db import Database
from hub.models import AuditChainHead, AuditRecord, AuditSubject
from schema.context import AuditEntry, LoggedAccess

CHAIN = "audit"
GENESIS = "0" * 64
"""The ``prev_hash`` of the first record."""


def canonical(record: AuditRecord) -> str:
    """The record's fields (all but ``hash`` and ``prev_hash``) as canonical JSON."""
    return json.dumps(
        {
            "seq": record.seq,
            "at": _utc(record.at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "request_id": record.request_id,
            "principal_kind": record.principal_kind,
            "principal": record.principal,
            "subjects": json.loads(record.subjects),
            "operation_name": record.operation_name,
            "document_hash": record.document_hash,
            "departments": json.loads(record.departments),
            "fields": json.loads(record.fields),
            "outcome": record.outcome,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def record_hash(record: AuditRecord) -> str:
    return hashlib.sha256((canonical(record) + record.prev_hash).encode()).hexdigest()


def append_record(session: Session, entry: AuditEntry) -> int:
    """Append ``entry`` to the chain in one transaction; its ``seq``. Blocking."""
    head = _locked_head(session)
    record = AuditRecord(
        seq=head.seq + 1,
        at=datetime.now(UTC),  # taken under the lock: chain order is time order
        request_id=entry.request_id,
        principal_kind=entry.principal_kind,
        principal=entry.principal,
        subjects=_json_list(entry.subjects),
        operation_name=entry.operation_name,
        document_hash=entry.document_hash,
        departments=_json_list(entry.departments),
        fields=_json_list(entry.fields),
        outcome=entry.outcome,
        prev_hash=head.hash,
        hash="",
    )
    record.hash = record_hash(record)
    session.add(record)
    session.add_all(AuditSubject(resident_id=s, seq=record.seq) for s in set(entry.subjects))
    head.seq, head.hash = record.seq, record.hash
    session.add(head)
    session.commit()
    return record.seq


def _locked_head(session: Session) -> AuditChainHead:
    """The chain head, locked for this transaction (created on the very first append)."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    for _ in range(2):
        if sqlite:
            # the write lock first, so no other writer reads this head before we commit
            session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            head = session.get(AuditChainHead, CHAIN)
        else:
            query = select(AuditChainHead).where(AuditChainHead.chain == CHAIN).with_for_update()
            head = session.exec(query).first()
        if head is not None:
            return head
        session.rollback()
        session.add(AuditChainHead(chain=CHAIN, seq=0, hash=GENESIS))
        try:
            session.commit()
        except IntegrityError:  # another replica created it first: lock theirs
            session.rollback()
    raise RuntimeError("the audit chain head could not be created")


class SqlAuditLog:
    """The audit log in the hub's database (SQLite or PostgreSQL)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._appending = asyncio.Lock()

    async def append(self, entry: AuditEntry) -> None:
        async with self._appending:
            await self._database.run(lambda session: append_record(session, entry))

    async def accesses_to(
        self, resident_id: str, *, first: int, before_seq: int | None = None
    ) -> list[LoggedAccess]:
        def read(session: Session) -> list[LoggedAccess]:
            query = (
                select(AuditRecord)
                .join(AuditSubject, AuditSubject.seq == AuditRecord.seq)  # type: ignore[arg-type]
                .where(AuditSubject.resident_id == resident_id)
            )
            if before_seq is not None:
                query = query.where(AuditRecord.seq < before_seq)
            rows = session.exec(query.order_by(AuditRecord.seq.desc()).limit(first)).all()  # type: ignore[attr-defined]
            return [LoggedAccess(row.seq, _utc(row.at), _entry(row)) for row in rows]

        return await self._database.run(read)


@dataclass(frozen=True)
class ChainBreak:
    """The first record at which the chain does not hold, and why."""

    seq: int
    reason: str


def verify_chain(engine: Engine) -> tuple[int, ChainBreak | None]:
    """``(records checked, first break or None)``, recomputing every hash in ``seq`` order."""
    expected_seq, prev_hash = 1, GENESIS
    with Session(engine) as session:
        rows = session.exec(
            select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=1000)  # type: ignore[arg-type]
        )
        for record in rows:
            if record.seq != expected_seq:
                return expected_seq - 1, ChainBreak(
                    expected_seq, f"missing (the chain jumps to record {record.seq})"
                )
            if record.prev_hash != prev_hash:
                return expected_seq - 1, ChainBreak(
                    record.seq, f"prev_hash does not match record {record.seq - 1}"
                )
            if record_hash(record) != record.hash:
                return expected_seq - 1, ChainBreak(
                    record.seq, "its contents do not match its hash"
                )
            expected_seq, prev_hash = record.seq + 1, record.hash
        checked = expected_seq - 1
        head = session.get(AuditChainHead, CHAIN)
    if head is None:
        broken = ChainBreak(1, "the chain head is missing") if checked else None
        return checked, broken
    if head.seq > checked:
        return checked, ChainBreak(checked + 1, f"missing (the chain head is at {head.seq})")
    if head.seq < checked or head.hash != prev_hash:
        return checked, ChainBreak(checked, "does not match the chain head")
    return checked, None


def _entry(row: AuditRecord) -> AuditEntry:
    return AuditEntry(
        request_id=row.request_id,
        principal_kind=row.principal_kind,
        principal=row.principal,
        subjects=tuple(json.loads(row.subjects)),
        operation_name=row.operation_name,
        document_hash=row.document_hash,
        departments=tuple(json.loads(row.departments)),
        fields=tuple(json.loads(row.fields)),
        outcome=row.outcome,
    )


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(sorted(set(values)), separators=(",", ":"), ensure_ascii=False)


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
