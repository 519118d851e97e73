"""``schema.context.HubRecords``: what the hub remembers for residents, in its database."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy import bindparam, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select

from connectors.singleflight import InFlight
from hub.db import Database
from hub.models import DoorAttempt, WindowAppointment
from hub.settings import Settings
from schema.context import LinkedAppointment

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
        def read(session: Session) -> list[LinkedAppointment]:
            # on every home screen: two columns through Core, no ORM objects
            rows = session.connection().execute(_APPOINTMENTS_OF, {"resident": resident_id})
            return [LinkedAppointment(bank, number) for bank, number in rows]

        return await self._reading.run(("of", resident_id), partial(self._database.run, read))

    async def appointments_at(self, bank: str) -> list[tuple[str, LinkedAppointment]]:
        def read(session: Session) -> list[tuple[str, LinkedAppointment]]:
            rows = session.exec(
                select(WindowAppointment).where(WindowAppointment.bank == bank)
            ).all()
            return [(row.resident_id, LinkedAppointment(row.bank, row.number)) for row in rows]

        return await self._database.run(read)

    async def record_door_attempt(self, resident_id: str, lock_id: int, outcome: str) -> None:
        def write(session: Session) -> None:
            session.add(
                DoorAttempt(resident_id=resident_id, lock_id=lock_id, at=_now(), outcome=outcome)
            )
            session.commit()

        await self._database.run(write)

    async def door_attempt_allowed(self, resident_id: str) -> bool:
        # counted in the database, so the limit holds across replicas
        since = _now() - timedelta(minutes=1)

        def count(session: Session) -> int:
            query = select(func.count()).where(
                DoorAttempt.resident_id == resident_id, DoorAttempt.at >= since
            )
            return int(session.exec(query).one())

        return await self._database.run(count) < self._door_attempts_per_minute


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
