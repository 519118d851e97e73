"""``schema.context.HubRecords``: what the hub remembers for residents, in its database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from connectors.singleflight import InFlight
from hub.settings import Settings
from hub.store.db import Compiled, Database
from hub.store.models import DoorAttempt, Resident, WindowAppointment
from schema.context import LinkedAppointment

PENDING = "PENDING"
"""A reserved door attempt whose unlock has not finished (or whose process died meanwhile)."""
TOO_MANY_ATTEMPTS = "TOO_MANY_ATTEMPTS"

_APPOINTMENTS_OF = (
    sa_select(WindowAppointment.bank, WindowAppointment.number)  # type: ignore[call-overload]
    .where(WindowAppointment.resident_id == bindparam("resident"))
    .order_by(WindowAppointment.created_at.desc())  # type: ignore[attr-defined]
)


class SqlHubRecords:
    """Appointment links, door attempts and applicant references."""

    def __init__(
        self, database: Database, *, applicant_key: bytes, door_attempts_per_minute: int = 5
    ) -> None:
        self._database = database
        self._applicant_key = applicant_key
        self._door_attempts_per_minute = door_attempts_per_minute
        # a resident's identical reads at the same moment share one query; a link forgets them
        self._reading = InFlight()
        self._appointments_of = Compiled(_APPOINTMENTS_OF, database.engine.dialect)

    def applicant_ref(self, resident_id: str) -> str:
        digest = hmac.new(self._applicant_key, resident_id.encode(), hashlib.sha256)
        return digest.hexdigest()[:32]

    async def link_appointment(self, resident_id: str, bank: str, number: str) -> None:
        def write(session: Session) -> None:
            if session.get(WindowAppointment, (bank, number)) is None:
                session.add(
                    WindowAppointment(
                        bank=bank, number=number, resident_id=resident_id, created_at=_now()
                    )
                )
                session.commit()

        try:
            await self._database.run(write)
        finally:
            self._reading.forget()  # reads begun before the link committed are not joined

    async def appointments_of(self, resident_id: str) -> list[LinkedAppointment]:
        statement = self._appointments_of

        def read(cursor: Any) -> list[LinkedAppointment]:
            # on every home screen: two columns straight from the driver, on the kept reader
            statement.execute(cursor, {"resident": resident_id})
            return [LinkedAppointment(bank, number) for bank, number in cursor.fetchall()]

        return await self._reading.run(("of", resident_id), partial(self._database.read, read))

    async def appointments_at(self, bank: str) -> list[tuple[str, LinkedAppointment]]:
        def read(session: Session) -> list[tuple[str, LinkedAppointment]]:
            rows = session.exec(
                select(WindowAppointment).where(WindowAppointment.bank == bank)
            ).all()
            return [(row.resident_id, LinkedAppointment(row.bank, row.number)) for row in rows]

        return await self._database.run(read)

    async def reserve_door_attempt(self, resident_id: str, lock_id: int) -> int | None:
        """Take one of the resident's attempts for this minute, atomically, before the unlock:
        the new row's id, or None (the refusal recorded) when the minute's attempts are used.

        Counted and inserted in one transaction holding a lock all the hub's processes share:
        SQLite's write lock (``BEGIN IMMEDIATE``), the resident's row on PostgreSQL."""
        since = _now() - timedelta(minutes=1)

        def reserve(session: Session) -> int | None:
            connection = session.connection()
            if session.get_bind().dialect.name == "sqlite":
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                connection.execute(
                    sa_select(Resident.id)  # type: ignore[call-overload]
                    .where(Resident.id == resident_id)
                    .with_for_update()
                )
            used = session.exec(
                select(func.count()).where(
                    DoorAttempt.resident_id == resident_id, DoorAttempt.at >= since
                )
            ).one()
            allowed = int(used) < self._door_attempts_per_minute
            attempt = DoorAttempt(
                resident_id=resident_id,
                lock_id=lock_id,
                at=_now(),
                outcome=PENDING if allowed else TOO_MANY_ATTEMPTS,
            )
            session.add(attempt)
            session.commit()
            return attempt.id if allowed else None

        return await self._database.run(reserve)

    async def settle_door_attempt(self, attempt_id: int, outcome: str) -> None:
        """Write what became of a reserved attempt onto its row."""

        def write(session: Session) -> None:
            attempt = session.get(DoorAttempt, attempt_id)
            if attempt is not None:
                attempt.outcome = outcome[:32]
                session.commit()

        await self._database.run(write)


def _now() -> datetime:
    return datetime.now(UTC)


def applicant_key(settings: Settings) -> bytes:
    """The key for applicant references: ``HUB_APPLICANT_REF_KEY`` (hex), or a dev key kept
    under ``var/keys`` so references stay stable across restarts."""
    if settings.applicant_ref_key:
        return bytes.fromhex(settings.applicant_ref_key)
    path = settings.keys_dir / "applicant-ref.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(secrets.token_hex(32))
        temporary.chmod(0o600)
        temporary.replace(path)
    return bytes.fromhex(path.read_text().strip())
