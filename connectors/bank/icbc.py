"""ICBC's dialect: English field names, batch look-ups of up to 20 keys per call.

=========================  ===============================================================
``branch.list``            ``{district, page_no, page_size}`` → ``{branches, total}``
``branch.queue.query``     ``{branch_nos}`` (≤ 20) → ``{queues}``, known branches only
``gov.item.list``          ``{page_no, page_size}`` → ``{items, total}``
``gov.appointment.create`` ``{branch_no, item_code, date, slot, applicant_ref, mobile}``
``gov.appointment.query``  ``{appointment_nos}`` (≤ 20) → ``{appointments}``, known ones only
``gov.appointment.cancel`` ``{appointment_no}`` → ``{appointment_no, status: CANCELLED}``
=========================  ===============================================================

Batch answers come in the bank's order, not ours: they are keyed by number, never by position.
The mapping functions are pure (payload in, record out).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.bank import protocol
from connectors.bank.client import BankConnector, Booking
from connectors.bank.models import Appointment, AppointmentStatus, Bank, Branch, GovItem, Queue
from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields

DEPARTMENT = "icbc"
DISTRICT = "罗湖区"


def _texts(values: Sequence[object], record: str) -> tuple[str, ...]:
    if not all(isinstance(value, str) for value in values):
        raise UpstreamPayloadError(DEPARTMENT, f"{record}: expected strings")
    return tuple(str(value) for value in values)


def _status(value: str) -> AppointmentStatus:
    try:
        return AppointmentStatus(value)
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"appointment.status: unknown {value!r}") from exc


def branch(payload: object) -> Branch:
    f = Fields(payload, DEPARTMENT, "branch")
    return Branch(
        bank=Bank.ICBC,
        id=f.text("branch_no"),
        name=f.text("branch_name"),
        address=f.text("address"),
        district=f.text("district"),
        longitude=f.number("longitude"),
        latitude=f.number("latitude"),
        hours=f.text("business_hours"),
        item_codes=_texts(f.opt_array("gov_items"), "branch.gov_items"),
    )


def branches(rows: Sequence[object]) -> tuple[Branch, ...]:
    """The rows with a government window (``gov_window: true``)."""
    return tuple(
        branch(row) for row in rows if Fields(row, DEPARTMENT, "branch").flag("gov_window")
    )


def queue(payload: object) -> Queue:
    f = Fields(payload, DEPARTMENT, "queue")
    try:
        updated = protocol.parse_stamp(f.text("updated_at"))
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, "queue.updated_at: not a bank timestamp") from exc
    return Queue(
        bank=Bank.ICBC,
        branch_id=f.text("branch_no"),
        waiting=f.integer("waiting"),
        estimated_wait_minutes=f.integer("est_wait_min"),
        updated_at=updated,
    )


def queues(payload: Mapping[str, Any]) -> dict[str, Queue]:
    found = (queue(row) for row in Fields(payload, DEPARTMENT, "answer").array("queues"))
    return {q.branch_id: q for q in found}


def item(payload: object) -> GovItem:
    f = Fields(payload, DEPARTMENT, "item")
    return GovItem(
        code=f.text("item_code"),
        name=f.text("item_name"),
        department=f.text("department"),
        materials=_texts(f.opt_array("materials"), "item.materials"),
    )


def items(rows: Sequence[object]) -> tuple[GovItem, ...]:
    return tuple(item(row) for row in rows)


def appointment(payload: object) -> Appointment:
    f = Fields(payload, DEPARTMENT, "appointment")
    return Appointment(
        bank=Bank.ICBC,
        number=f.text("appointment_no"),
        branch_id=f.text("branch_no"),
        item_code=f.text("item_code"),
        date=f.day("date"),
        slot=f.text("slot"),
        status=_status(f.text("status")),
    )


def appointments(payload: Mapping[str, Any]) -> dict[str, Appointment]:
    found = (
        appointment(row) for row in Fields(payload, DEPARTMENT, "answer").array("appointments")
    )
    return {a.number: a for a in found}


def create_biz(wanted: Booking) -> dict[str, str]:
    """``gov.appointment.create``'s ``biz_content``."""
    return {
        "branch_no": wanted.branch_id,
        "item_code": wanted.item_code,
        "date": wanted.day.isoformat(),
        "slot": wanted.slot,
        "applicant_ref": wanted.applicant_ref,
        "mobile": wanted.mobile,
    }


def cancelled(payload: Mapping[str, Any], number: str) -> None:
    """Check that a cancellation answer names ``number`` as CANCELLED."""
    f = Fields(payload, DEPARTMENT, "cancellation")
    status = _status(f.text("status"))
    if f.text("appointment_no") != number or status is not AppointmentStatus.CANCELLED:
        raise UpstreamPayloadError(DEPARTMENT, f"cancellation of {number} not confirmed")


class IcbcConnector(BankConnector):
    """工商银行深圳分行's open API: branches, items, queues and appointments."""

    department = DEPARTMENT
    bank = Bank.ICBC

    async def _fetch_branches(self) -> tuple[Branch, ...]:
        keys = ("page_no", "page_size", "branches", "total")
        rows = await self._pages("branch.list", {"district": DISTRICT}, keys)
        return self._map(branches, rows)

    async def _fetch_items(self) -> tuple[GovItem, ...]:
        rows = await self._pages("gov.item.list", {}, ("page_no", "page_size", "items", "total"))
        return self._map(items, rows)

    async def _fetch_queues(self, branch_ids: list[str]) -> dict[str, Queue]:
        chunks = protocol.chunks(branch_ids)
        for chunk in chunks:
            self.record_batch("POST /api/branch.queue.query", len(chunk))
        answers = await asyncio.gather(
            *(self._call("branch.queue.query", {"branch_nos": chunk}) for chunk in chunks)
        )
        found: dict[str, Queue] = {}
        for answer in answers:
            found.update(self._map(queues, answer))
        return {key: found[key] for key in branch_ids if key in found}

    async def _create(self, wanted: Booking, msg_id: str) -> Appointment:
        answer = await self._call(
            "gov.appointment.create", create_biz(wanted), msg_id=msg_id, booking=True
        )
        return self._map(appointment, answer)

    async def _fetch_appointments(self, numbers: list[str]) -> dict[str, Appointment]:
        chunks = protocol.chunks(numbers)
        for chunk in chunks:
            self.record_batch("POST /api/gov.appointment.query", len(chunk))
        answers = await asyncio.gather(
            *(self._call("gov.appointment.query", {"appointment_nos": chunk}) for chunk in chunks)
        )
        found: dict[str, Appointment] = {}
        for answer in answers:
            found.update(self._map(appointments, answer))
        return {key: found[key] for key in numbers if key in found}

    async def _cancel(self, number: str, msg_id: str) -> None:
        answer = await self._call(
            "gov.appointment.cancel", {"appointment_no": number}, msg_id=msg_id
        )
        self._map(lambda payload: cancelled(payload, number), answer)
