"""PLACEHOLDER until 秒批 (issue 13) is merged: ``schema.context.ApplicationFiling`` that only
records the filing in the hub's database.

At the merge, ``file`` hands the application to the approval service (``applyForService``'s
service in ``hub/``) for resident R, item I, on behalf of partner P under consent C, and keeps
the decision it answers; the consent checks before it (``schema.consents_partner``) stay as
they are. One filing per consent (a unique key): a repeat answers the first.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.store.consents import utc, utc_now
from hub.store.db import Database
from hub.store.models import ConsentFiling
from schema.context import FiledApplication

RECEIVED = "RECEIVED"
"""Recorded by the hub, not yet decided (the placeholder's only state for ordinary items)."""
AWAITING_INSTANT = "AWAITING_INSTANT"
"""An instant (秒批) item, recorded; the approval service will decide it once wired."""


class RecordedFilings:
    """Records filings under consents; decides nothing (see the module docstring)."""

    def __init__(self, database: Database, *, clock: Callable[[], datetime] = utc_now) -> None:
        self._database = database
        self._clock = clock

    async def file(
        self, *, resident_id: str, item_code: str, partner_id: str, consent_id: str, instant: bool
    ) -> FiledApplication:
        row = ConsentFiling(
            id="F" + secrets.token_hex(8),
            consent_id=consent_id,
            resident_id=resident_id,
            item_code=item_code,
            partner_id=partner_id,
            state=AWAITING_INSTANT if instant else RECEIVED,
            filed_at=self._clock(),
        )

        def insert(session: Session) -> FiledApplication:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:  # filed already under this consent: the first filing
                session.rollback()
            found = session.exec(
                select(ConsentFiling).where(ConsentFiling.consent_id == consent_id)
            ).one()
            return _filed(found)

        return await self._database.run(insert)

    async def filed(self, resident_id: str, item_code: str) -> list[FiledApplication]:
        def read(session: Session) -> list[FiledApplication]:
            rows = session.exec(
                select(ConsentFiling)
                .where(ConsentFiling.resident_id == resident_id)
                .where(ConsentFiling.item_code == item_code)
                .order_by(col(ConsentFiling.filed_at).desc())
            ).all()
            return [_filed(row) for row in rows]

        return await self._database.run(read)


def _filed(row: ConsentFiling) -> FiledApplication:
    filed_at = utc(row.filed_at)
    assert filed_at is not None
    return FiledApplication(
        id=row.id,
        resident_id=row.resident_id,
        item_code=row.item_code,
        partner_id=row.partner_id,
        consent_id=row.consent_id,
        state=row.state,
        filed_at=filed_at,
    )
