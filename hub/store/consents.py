"""``schema.context.ConsentStore`` in the hub's database: consents and their one-time codes.

A code is 6 digits from ``secrets``; the table keeps only HMAC-SHA-256 of it under the hub's
key, so a copy of the database does not give away a live code. Redemption is one conditional
``UPDATE … WHERE redeemed_at IS NULL`` (single redemption across replicas: the database
decides), bound to the redeeming partner's bank and, when the resident named one, to that
partner. A new code is drawn again while it would collide with a code still redeemable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from hub.store.db import Database
from hub.store.models import Consent
from schema.context import ConsentGrant, ConsentRecord, ConsentScope

CODE_DIGITS = 6


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqlConsents:
    """Consents in SQL; ``clock`` is the one time every check uses (tests move it)."""

    def __init__(
        self, database: Database, *, code_key: bytes, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._database = database
        self._key = hmac.new(code_key, b"ihub consent codes", hashlib.sha256).digest()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    def code_hash(self, code: str) -> str:
        return hmac.new(self._key, code.encode(), hashlib.sha256).hexdigest()

    async def grant(self, grant: ConsentGrant) -> tuple[ConsentRecord, str]:
        now = self.now()

        def insert(session: Session) -> tuple[ConsentRecord, str]:
            while True:
                code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
                digest = self.code_hash(code)
                clash = session.exec(
                    select(Consent.id).where(
                        Consent.code_hash == digest,
                        col(Consent.redeemed_at).is_(None),
                        col(Consent.revoked_at).is_(None),
                        Consent.expires_at > now,
                    )
                ).first()
                if clash is None:
                    break
            row = Consent(
                id="C" + secrets.token_hex(8),
                resident_id=grant.resident_id,
                item_code=grant.item_code,
                bank=grant.bank,
                branch_id=grant.branch_id,
                partner_id=grant.partner_id,
                scopes=json.dumps(sorted(s.value for s in grant.scopes)),
                unmasked=json.dumps(sorted(grant.unmasked)),
                code_hash=digest,
                granted_at=now,
                expires_at=now + timedelta(minutes=grant.minutes),
            )
            session.add(row)
            session.commit()
            session.refresh(row)
            return _record(row), code

        return await self._database.run(insert)

    async def get(self, consent_id: str) -> ConsentRecord | None:
        def read(session: Session) -> ConsentRecord | None:
            row = session.get(Consent, consent_id)
            return _record(row) if row else None

        return await self._database.run(read)

    async def revoke(self, resident_id: str, consent_id: str) -> ConsentRecord | None:
        now = self.now()

        def revoke(session: Session) -> ConsentRecord | None:
            row = session.get(Consent, consent_id)
            if row is None or row.resident_id != resident_id:
                return None
            if row.revoked_at is None:
                row.revoked_at = now
                session.add(row)
                session.commit()
                session.refresh(row)
            return _record(row)

        return await self._database.run(revoke)

    async def of_resident(self, resident_id: str, *, first: int) -> list[ConsentRecord]:
        def read(session: Session) -> list[ConsentRecord]:
            rows = session.exec(
                select(Consent)
                .where(Consent.resident_id == resident_id)
                .order_by(col(Consent.granted_at).desc(), col(Consent.id))
                .limit(first)
            ).all()
            return [_record(row) for row in rows]

        return await self._database.run(read)

    async def redeem(self, code: str, *, partner_id: str, bank: str) -> ConsentRecord | None:
        now, digest = self.now(), self.code_hash(code)

        def redeem(session: Session) -> ConsentRecord | None:
            table = Consent.__table__  # type: ignore[attr-defined]
            taken = session.execute(
                update(table)
                .where(
                    table.c.code_hash == digest,
                    table.c.bank == bank,
                    (table.c.partner_id.is_(None)) | (table.c.partner_id == partner_id),
                    table.c.redeemed_at.is_(None),
                    table.c.revoked_at.is_(None),
                    table.c.expires_at > now,
                )
                .values(redeemed_at=now, redeemed_by=partner_id)
                .returning(table.c.id)
            ).first()
            session.commit()
            if taken is None:
                return None
            row = session.get(Consent, taken.id)
            return _record(row) if row else None

        return await self._database.run(redeem)


def utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    # SQLite hands back naive datetimes; they were written in UTC
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(row: Consent) -> ConsentRecord:
    granted, expires = utc(row.granted_at), utc(row.expires_at)
    assert granted is not None and expires is not None
    return ConsentRecord(
        id=row.id,
        resident_id=row.resident_id,
        item_code=row.item_code,
        bank=row.bank,
        branch_id=row.branch_id,
        partner_id=row.partner_id,
        scopes=frozenset(ConsentScope(s) for s in json.loads(row.scopes)),
        unmasked=frozenset(json.loads(row.unmasked)),
        granted_at=granted,
        expires_at=expires,
        revoked_at=utc(row.revoked_at),
        redeemed_at=utc(row.redeemed_at),
        redeemed_by=row.redeemed_by,
    )
