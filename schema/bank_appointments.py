"""A resident's bank-window appointments: book, cancel, list. Banks see only a reference."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from enum import Enum
from typing import Any

import strawberry

from connectors.bank import models as m
from schema.bank import Bank, BankBranch, GovItem, bank_loaders, branch_of, item_of
from schema.common import IDEMPOTENCY_KEY_HELP, UserError, current_resident, idempotent, user_errors
from schema.context import HubInfo
from schema.errors import BadUserInput, Forbidden, report_partial_failure
from schema.records import from_json, to_json

MOBILE = re.compile(r"1[3-9]\d{9}")
SLOT = re.compile(r"\d{2}:\d{2}-\d{2}:\d{2}")


@strawberry.enum(description="Booked, served, cancelled, or missed.")
class AppointmentStatus(Enum):
    BOOKED = "BOOKED"
    SERVED = "SERVED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


@strawberry.type(description="An appointment at a bank's government-service window.")
class WindowAppointment:
    number: strawberry.ID
    bank: Bank
    date: dt.date
    slot: str = strawberry.field(description='Half an hour, e.g. "10:00-10:30".')
    status: AppointmentStatus
    branch_id: strawberry.Private[str]
    item_code: strawberry.Private[str]

    @strawberry.field(description="Where.")
    async def branch(self, info: HubInfo) -> BankBranch | None:
        branches = await bank_loaders(info, self.bank).connector.branches()
        found = next((b for b in branches if b.id == self.branch_id), None)
        return branch_of(found, None) if found else None

    @strawberry.field(description="What for.")
    async def item(self, info: HubInfo) -> GovItem | None:
        items = await bank_loaders(info, self.bank).connector.items()
        found = next((i for i in items if i.code == self.item_code), None)
        return item_of(found, [self.bank]) if found else None


def appointment_of(a: m.Appointment) -> WindowAppointment:
    return WindowAppointment(
        number=strawberry.ID(a.number),
        bank=Bank(a.bank.value),
        date=a.date,
        slot=a.slot,
        status=AppointmentStatus(a.status.value),
        branch_id=a.branch_id,
        item_code=a.item_code,
    )


async def my_appointments(info: HubInfo, resident_id: str) -> list[WindowAppointment]:
    """The resident's appointments, fresh from each bank (ICBC in batches, CCB one by one)."""
    linked = await info.context.records.appointments_of(resident_id)
    loads = [bank_loaders(info, Bank(a.bank)).appointment_by_number.load(a.number) for a in linked]
    answers = await asyncio.gather(*loads, return_exceptions=True)
    found, reported = [], set()
    for link, answer in zip(linked, answers, strict=True):
        if isinstance(answer, Exception):
            if link.bank not in reported:  # one error per failing bank, not per appointment
                reported.add(link.bank)
                report_partial_failure(info, answer)
        elif isinstance(answer, m.Appointment):
            found.append(appointment_of(answer))
    return found


@strawberry.input(description="Book a slot at a branch's government window.")
class BookWindowAppointmentInput:
    bank: Bank
    branch_id: strawberry.ID
    item_code: strawberry.ID
    date: dt.date = strawberry.field(description="From tomorrow, within the bank's window.")
    slot: str = strawberry.field(description='Half an hour, e.g. "10:00-10:30".')
    mobile: str = strawberry.field(description="A mainland mobile number for the bank's SMS.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="Cancel one of the resident's appointments.")
class CancelWindowAppointmentInput:
    bank: Bank
    number: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="The appointment after the change, or why there was none.")
class WindowAppointmentPayload:
    appointment: WindowAppointment | None
    user_errors: list[UserError]


def _payload(outcome: dict[str, Any]) -> WindowAppointmentPayload:
    found = outcome.get("appointment")
    return WindowAppointmentPayload(
        appointment=appointment_of(from_json(m.Appointment, found)) if found else None,
        user_errors=user_errors(outcome),
    )


@strawberry.type
class BankMutation:
    @strawberry.mutation(
        description="预约窗口办事 · "
        "Book a window appointment. The bank sees a reference, never who you are. "
        "Refusals: SLOT_FULL, ITEM_NOT_HANDLED, INVALID_BOOKING (date or slot), NOT_FOUND."
    )
    async def book_window_appointment(
        self, info: HubInfo, input: BookWindowAppointmentInput
    ) -> WindowAppointmentPayload:
        resident = await current_resident(info)
        mobile, slot = input.mobile.strip(), input.slot.strip()
        if not MOBILE.fullmatch(mobile):
            raise BadUserInput("`mobile` must be an 11-digit mainland number.", field="mobile")
        if not SLOT.fullmatch(slot):
            raise BadUserInput('`slot` looks like "10:00-10:30".', field="slot")
        connector = bank_loaders(info, input.bank).connector

        async def perform(key: str) -> dict[str, Any]:
            booked = await connector.book(
                branch_id=str(input.branch_id),
                item_code=str(input.item_code),
                day=input.date,
                slot=slot,
                applicant_ref=info.context.records.applicant_ref(resident.id),
                mobile=mobile,
                msg_id=key,
            )
            await info.context.records.link_appointment(
                resident.id, booked.bank.value, booked.number
            )
            return {"appointment": to_json(booked)}

        arguments = {
            "bank": input.bank.value, "branch": str(input.branch_id), "item": str(input.item_code),
            "date": input.date.isoformat(), "slot": slot, "mobile": mobile,
        }  # fmt: skip
        return _payload(
            await idempotent(
                info, resident, operation="bookWindowAppointment", key=input.idempotency_key,
                arguments=arguments, perform=perform,
            )
        )  # fmt: skip

    @strawberry.mutation(
        description="取消预约 · "
        "Cancel one of your appointments. Refusals: CANNOT_CANCEL (served, missed "
        "or already cancelled)."
    )
    async def cancel_window_appointment(
        self, info: HubInfo, input: CancelWindowAppointmentInput
    ) -> WindowAppointmentPayload:
        resident = await current_resident(info)
        number = str(input.number)
        mine = await info.context.records.appointments_of(resident.id)
        if not any(a.bank == input.bank.value and a.number == number for a in mine):
            raise Forbidden("That is not one of your appointments.", field="number")
        connector = bank_loaders(info, input.bank).connector

        async def perform(key: str) -> dict[str, Any]:
            return {"appointment": to_json(await connector.cancel(number, msg_id=key))}

        return _payload(
            await idempotent(
                info, resident, operation="cancelWindowAppointment", key=input.idempotency_key,
                arguments={"bank": input.bank.value, "number": number}, perform=perform,
            )
        )  # fmt: skip
