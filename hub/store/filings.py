"""``schema.context.ApplicationFiling``: applications a partner files for a resident under a
consent (帮办), one per consent.

An ordinary item is recorded (RECEIVED) for its department. A 秒批 item goes to the approval
service as if the resident had applied (``applyForService``: the same rules, evidence, decision
record, payment instruction and review queue), and the filing keeps the decision it answered.
The consent checks come before (``schema.consents_partner``).

Exactly once: the filing row (unique per consent) is written before the approval service is
asked, so a repeat, or a filing racing it, answers the first; if the process stopped between
the row and the decision (state AWAITING_INSTANT, no decision), the next filing under the
consent asks again, and the approval service never pays twice (an active entitlement answers
ALREADY_ENTITLED).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.store.consents import utc, utc_now
from hub.store.db import Database
from hub.store.models import ConsentFiling
from schema.context import Approvals, Decision, FiledApplication, ResidentDirectory

RECEIVED = "RECEIVED"
"""An ordinary item, recorded by the hub for its department."""
AWAITING_INSTANT = "AWAITING_INSTANT"
"""A 秒批 item whose decision is not in yet."""
REFUSED = "REFUSED"
"""The approval service refused before deciding (``refusal`` says why)."""


class ConsentFilings:
    """Files under consents: records ordinary items, decides 秒批 ones through ``approvals``."""

    def __init__(
        self,
        database: Database,
        approvals: Approvals,
        directory: ResidentDirectory,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._database = database
        self._approvals = approvals
        self._directory = directory
        self._clock = clock

    async def file(
        self,
        *,
        resident_id: str,
        item_code: str,
        partner_id: str,
        consent_id: str,
        rule_code: str | None,
        answers: Mapping[str, str],
    ) -> FiledApplication:
        row = await self._reserve(
            ConsentFiling(
                id="F" + secrets.token_hex(8),
                consent_id=consent_id,
                resident_id=resident_id,
                item_code=item_code,
                partner_id=partner_id,
                state=AWAITING_INSTANT if rule_code is not None else RECEIVED,
                filed_at=self._clock(),
            )
        )
        if rule_code is not None and row.state == AWAITING_INSTANT and row.decision_id is None:
            row = await self._decide(row, rule_code, answers)
        return await self._shown(row)

    async def filed(self, resident_id: str, item_code: str) -> list[FiledApplication]:
        def read(session: Session) -> list[ConsentFiling]:
            return list(
                session.exec(
                    select(ConsentFiling)
                    .where(ConsentFiling.resident_id == resident_id)
                    .where(ConsentFiling.item_code == item_code)
                    .order_by(col(ConsentFiling.filed_at).desc())
                ).all()
            )

        rows = await self._database.run(read)
        decided = [row for row in rows if row.decision_id is not None]
        newest = await self._approvals.decisions_of(resident_id) if decided else []
        return [_filed(row, _current(row, newest)) for row in rows]

    async def _reserve(self, row: ConsentFiling) -> ConsentFiling:
        """The consent's filing: ``row`` if it is the first, else the one before it."""

        def insert(session: Session) -> ConsentFiling:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # filed already under this consent: the first filing
                session.rollback()
            found = session.exec(
                select(ConsentFiling).where(ConsentFiling.consent_id == row.consent_id)
            ).one()
            session.expunge(found)
            return found

        return await self._database.run(insert)

    async def _decide(
        self, row: ConsentFiling, rule_code: str, answers: Mapping[str, str]
    ) -> ConsentFiling:
        profile = await self._directory.profile(row.resident_id)
        if profile is None:  # the consent's resident is the hub's: only a broken store lands here
            raise LookupError(f"resident {row.resident_id} of consent {row.consent_id} is unknown")
        result = await self._approvals.apply(profile, rule_code, dict(answers))
        decision_id = result.decision.decision_id if result.decision is not None else None
        state = result.decision.outcome if result.decision is not None else REFUSED
        refusal = result.refusal[0] if result.refusal is not None else None

        def record(session: Session) -> ConsentFiling:
            found = session.get(ConsentFiling, row.id)
            assert found is not None
            if found.decision_id is None and found.state == AWAITING_INSTANT:
                found.state, found.decision_id, found.refusal = state, decision_id, refusal
                session.add(found)
                session.commit()
                session.refresh(found)
            session.expunge(found)
            return found

        return await self._database.run(record)

    async def _shown(self, row: ConsentFiling) -> FiledApplication:
        decision = None
        if row.decision_id is not None:
            decisions = await self._approvals.decisions_of(row.resident_id)
            decision = _current(row, decisions)
        return _filed(row, decision)


def _current(row: ConsentFiling, newest_first: list[Decision]) -> Decision | None:
    """The filing's decision, or a newer one on the same item and person (an operator's review,
    a re-check) that replaced it."""
    if row.decision_id is None:
        return None
    mine = next((d for d in newest_first if d.decision_id == row.decision_id), None)
    if mine is None:
        return None
    newer = (d for d in newest_first if d.item == mine.item and d.subject == mine.subject)
    return next(newer, mine)  # newest first: the first on the same item and person


REFUSALS = {
    "ALREADY_ENTITLED": "您已在享受该项补贴，无需重复申请。",
    "APPLICATION_PENDING": "您的申请已审核通过，补贴发放正在办理中，无需重复申请。",
}


def _filed(row: ConsentFiling, decision: Decision | None) -> FiledApplication:
    filed_at = utc(row.filed_at)
    assert filed_at is not None
    refusal = None
    if row.refusal is not None:
        refusal = (row.refusal, REFUSALS.get(row.refusal, "该事项未能受理。"))
    return FiledApplication(
        id=row.id,
        resident_id=row.resident_id,
        item_code=row.item_code,
        partner_id=row.partner_id,
        consent_id=row.consent_id,
        state=decision.outcome if decision is not None else row.state,
        filed_at=filed_at,
        decision=decision,
        refusal=refusal,
    )
