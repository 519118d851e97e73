"""The decision record of 秒批: every decision appended to a hash chain, verifiable like the
audit log (``verify_decisions``; ``ihub decisions verify``), and the one-grant-per-item claim.

``hash = sha256(canonical JSON of the other fields + prev_hash)``; appends lock the chain head
(``hub.store.audit.locked_head``, chain ``decisions``) so the chain stays linear across
requests and replicas.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, Engine, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from hub.store.audit import GENESIS, ChainBreak, locked_head
from hub.store.db import Database
from hub.store.models import ApprovalGrant, AuditChainHead, DecisionRecord, ReviewCase
from schema.context import Decision, Fact, Reason

CHAIN = "decisions"
PENDING, PAID = "PENDING", "PAID"
Claim = Literal["claimed", "taken", "case-closed"]
"""``approval_grant.state``: instructed but not confirmed by the ledger; confirmed."""


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _stamp(at: datetime) -> str:
    return _utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _evidence_json(evidence: Sequence[Fact]) -> list[dict[str, Any]]:
    return [
        {"department": f.department, "fact": f.fact, "fetched_at": _stamp(f.fetched_at),
         "value": f.value}
        for f in evidence
    ]  # fmt: skip


def canonical(record: DecisionRecord) -> str:
    fields = {
        "seq": record.seq, "decision_id": record.decision_id, "at": _stamp(record.at),
        "resident_id": record.resident_id, "subject": record.subject, "item": record.item,
        "impl_code": record.impl_code, "rule_version": record.rule_version,
        "parameter_version": record.parameter_version, "day": record.day.isoformat(),
        "evidence": json.loads(record.evidence), "outcome": record.outcome,
        "reasons": json.loads(record.reasons), "amount_fen": record.amount_fen,
    }  # fmt: skip
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(record: DecisionRecord) -> str:
    return hashlib.sha256((canonical(record) + record.prev_hash).encode()).hexdigest()


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def append_decision(session: Session, decision: Decision) -> int:
    """Append ``decision`` to the chain in one transaction; its ``seq``. Blocking."""
    seq, prev_hash = locked_head(session, CHAIN)
    return _append_locked(session, decision, seq, prev_hash)


def _append_locked(session: Session, decision: Decision, seq: int, prev_hash: str) -> int:
    """The append once the chain head is locked (``locked_head``); commits the transaction."""
    record = DecisionRecord(
        seq=seq + 1,
        decision_id=decision.decision_id,
        at=datetime.now(UTC),
        resident_id=decision.resident_id,
        subject=decision.subject,
        item=decision.item,
        impl_code=decision.impl_code,
        rule_version=decision.rule_version,
        parameter_version=decision.parameter_version,
        day=decision.day,
        evidence=_dumps(_evidence_json(decision.evidence)),
        outcome=decision.outcome,
        reasons=_dumps([{"code": r.code, "message": r.message} for r in decision.reasons]),
        amount_fen=decision.amount_fen,
        prev_hash=prev_hash,
        hash="",
    )
    record.hash = record_hash(record)
    session.add(record)
    head = session.get(AuditChainHead, CHAIN)
    assert head is not None
    head.seq, head.hash = record.seq, record.hash
    session.add(head)
    session.commit()
    return record.seq


def decide_case(session: Session, decision_id: str, by: str, decision: Decision) -> bool:
    """Close the open case ``decision_id`` by ``by`` with ``decision`` appended, in one
    transaction: the conditional update (``state = 'OPEN'``) lets exactly one of two
    operators deciding at once through; False (nothing written) for the other. Blocking."""
    seq, prev_hash = locked_head(session, CHAIN)
    if not _close_locked(session, decision_id, by, decision.decision_id):
        session.rollback()
        return False
    _append_locked(session, decision, seq, prev_hash)
    return True


def _close_locked(
    session: Session, decision_id: str, by: str, closing_decision_id: str | None
) -> bool:
    """The conditional update closing an open case, uncommitted: whether it was open."""
    closed = session.execute(
        update(ReviewCase)
        .where(ReviewCase.decision_id == decision_id, ReviewCase.state == "OPEN")  # type: ignore[arg-type]
        .values(
            state="CLOSED", closed_at=datetime.now(UTC), closed_by=by,
            closing_decision_id=closing_decision_id,
        )
    )  # fmt: skip
    return cast(CursorResult[Any], closed).rowcount == 1


def decision_of(record: DecisionRecord) -> Decision:
    evidence = tuple(
        Fact(e["department"], e["fact"], datetime.fromisoformat(e["fetched_at"]), e["value"])
        for e in json.loads(record.evidence)
    )
    reasons = tuple(Reason(r["code"], r["message"]) for r in json.loads(record.reasons))
    return Decision(
        record.decision_id, record.resident_id, record.subject, record.item, record.impl_code,
        record.rule_version, record.parameter_version, record.day, evidence, record.outcome,
        reasons, record.amount_fen, _utc(record.at), record.seq,
    )  # fmt: skip


class SqlDecisions:
    """Decisions and grants in the hub's database."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def append(self, decision: Decision) -> int:
        return await self._database.run(lambda s: append_decision(s, decision))

    async def of_resident(self, resident_id: str, *, first: int = 50) -> list[Decision]:
        def read(session: Session) -> list[Decision]:
            query = (
                select(DecisionRecord)
                .where(DecisionRecord.resident_id == resident_id)
                .order_by(DecisionRecord.seq.desc())  # type: ignore[attr-defined]
                .limit(first)
            )
            return [decision_of(r) for r in session.exec(query).all()]

        return await self._database.run(read)

    async def by_id(self, decision_id: str) -> Decision | None:
        def read(session: Session) -> Decision | None:
            query = select(DecisionRecord).where(DecisionRecord.decision_id == decision_id)
            row = session.exec(query).first()
            return decision_of(row) if row else None

        return await self._database.run(read)

    async def grant_of(self, subject: str, item: str) -> ApprovalGrant | None:
        return await self._database.run(lambda s: s.get(ApprovalGrant, (subject, item)))

    async def claim_grant(
        self,
        subject: str,
        item: str,
        decision_id: str,
        request_id: str,
        *,
        amount_fen: int | None = None,
        first_month: date | None = None,
        closing: tuple[str, str] | None = None,
    ) -> Claim:
        """Claim the subject's one grant of ``item`` (``PENDING``, with the instruction's
        amount and month): ``claimed``, or ``taken`` (the primary key makes the claim atomic
        on SQLite and PostgreSQL). With ``closing`` (case, by), the open case is closed in the
        same transaction, or nothing is written: ``case-closed``."""

        def claim(session: Session) -> Claim:
            if closing is not None and not _close_locked(session, *closing, decision_id):
                session.rollback()
                return "case-closed"
            session.add(ApprovalGrant(
                subject=subject, item=item, decision_id=decision_id, request_id=request_id,
                state=PENDING, amount_fen=amount_fen, first_month=first_month,
                claimed_at=datetime.now(UTC),
            ))  # fmt: skip
            try:
                session.commit()
                return "claimed"
            except IntegrityError:
                session.rollback()
                return "taken"

        return await self._database.run(claim)

    async def append_closing(self, decision: Decision, case_id: str, by: str) -> bool:
        """``decide_case``: ``decision`` appended and the open case closed by ``by``, or
        nothing written (False) when the case was closed already."""
        return await self._database.run(lambda s: decide_case(s, case_id, by, decision))

    async def settle_grant(self, subject: str, item: str, entitlement_id: str | None) -> None:
        """The ledger has the entitlement (``entitlement_id``; None: one it had already)."""

        def settle(session: Session) -> None:
            _settle(session, subject, item, entitlement_id)
            session.commit()

        await self._database.run(settle)

    async def append_paid(self, decision: Decision, entitlement_id: str | None) -> int:
        """The approval and its grant settled (``PAID``), in one transaction."""

        def write(session: Session) -> int:
            seq, prev_hash = locked_head(session, CHAIN)
            _settle(session, decision.subject, decision.item, entitlement_id)
            return _append_locked(session, decision, seq, prev_hash)

        return await self._database.run(write)

    async def append_queued(self, decision: Decision, answers: Mapping[str, str]) -> int:
        """A NEEDS_REVIEW decision and its review case, in one transaction."""

        def write(session: Session) -> int:
            seq, prev_hash = locked_head(session, CHAIN)
            session.add(_case(decision, answers))
            return _append_locked(session, decision, seq, prev_hash)

        return await self._database.run(write)

    async def complete_payment(
        self, case_id: str, decision: Decision, entitlement_id: str | None, by: str
    ) -> bool:
        """A pending payment confirmed: the grant ``PAID``, the approval appended and the
        queued case closed by ``by``, in one transaction; False (nothing written) if the case
        was not open."""

        def write(session: Session) -> bool:
            seq, prev_hash = locked_head(session, CHAIN)
            if not _close_locked(session, case_id, by, decision.decision_id):
                session.rollback()
                return False
            _settle(session, decision.subject, decision.item, entitlement_id)
            _append_locked(session, decision, seq, prev_hash)
            return True

        return await self._database.run(write)

    async def release_grant(self, subject: str, item: str, decision_id: str) -> None:
        """Give a claim back when the paying department refused (it wrote nothing)."""

        def release(session: Session) -> None:
            grant = session.get(ApprovalGrant, (subject, item))
            if grant is not None and grant.decision_id == decision_id:
                session.delete(grant)
                session.commit()

        await self._database.run(release)


def _settle(session: Session, subject: str, item: str, entitlement_id: str | None) -> None:
    grant = session.get(ApprovalGrant, (subject, item))
    if grant is not None:
        grant.state, grant.entitlement_id = PAID, entitlement_id
        session.add(grant)


def _case(decision: Decision, answers: Mapping[str, str]) -> ReviewCase:
    return ReviewCase(
        decision_id=decision.decision_id, resident_id=decision.resident_id,
        subject=decision.subject, item=decision.item, answers=_dumps(dict(answers)),
        state="OPEN", opened_at=datetime.now(UTC),
    )  # fmt: skip


class SqlReviews:
    """The review queue: NEEDS_REVIEW decisions until a re-check or an operator closes them."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def open(self, decision: Decision, answers: dict[str, str]) -> None:
        case = _case(decision, answers)

        def add(session: Session) -> None:
            session.add(case)
            session.commit()

        await self._database.run(add)

    async def open_cases(self, limit: int) -> list[ReviewCase]:
        return await self._database.run(lambda s: open_cases(s, limit))

    async def close(self, decision_id: str, by: str, closing_decision_id: str | None) -> bool:
        return await self._database.run(
            lambda s: close_case(s, decision_id, by, closing_decision_id)
        )

    async def case(self, decision_id: str) -> ReviewCase | None:
        return await self._database.run(lambda s: s.get(ReviewCase, decision_id))

    async def cases(self, state: str, limit: int) -> list[ReviewCase]:
        """Cases in ``state`` (OPEN oldest first, CLOSED newest first)."""

        def read(session: Session) -> list[ReviewCase]:
            query = select(ReviewCase).where(ReviewCase.state == state)
            if state == "OPEN":
                query = query.order_by(ReviewCase.opened_at)  # type: ignore[arg-type]
            else:
                query = query.order_by(ReviewCase.closed_at.desc())  # type: ignore[union-attr]
            return list(session.exec(query.limit(limit)).all())

        return await self._database.run(read)

    async def decide(self, decision_id: str, by: str, decision: Decision) -> bool:
        """``decide_case``: the case closed by ``by`` with ``decision``, or False."""
        return await self._database.run(lambda s: decide_case(s, decision_id, by, decision))


def open_cases(session: Session, limit: int) -> list[ReviewCase]:
    query = (
        select(ReviewCase)
        .where(ReviewCase.state == "OPEN")
        .order_by(ReviewCase.opened_at)  # type: ignore[arg-type]
        .limit(limit)
    )
    return list(session.exec(query).all())


def close_case(
    session: Session, decision_id: str, by: str, closing_decision_id: str | None
) -> bool:
    """Close an open case; False if it is not open (closed by someone else first). A
    conditional update: of two closing at once, exactly one succeeds."""
    closed = _close_locked(session, decision_id, by, closing_decision_id)
    session.commit()
    return closed


def verify_decisions(engine: Engine) -> tuple[int, ChainBreak | None]:
    """``(records checked, first break or None)``, recomputing every hash in ``seq`` order."""
    expected, prev_hash = 1, GENESIS
    with Session(engine) as session:
        rows = session.exec(select(DecisionRecord).order_by(DecisionRecord.seq))  # type: ignore[arg-type]
        for record in rows:
            if record.seq != expected:
                return expected - 1, ChainBreak(expected, f"missing (jumps to {record.seq})")
            if record.prev_hash != prev_hash:
                return expected - 1, ChainBreak(record.seq, "prev_hash does not match")
            if record_hash(record) != record.hash:
                return expected - 1, ChainBreak(record.seq, "hash does not match its fields")
            prev_hash, expected = record.hash, expected + 1
        head = session.get(AuditChainHead, CHAIN)
        if head is not None and head.seq != expected - 1:
            return expected - 1, ChainBreak(head.seq, "records after this one were removed")
    return expected - 1, None
