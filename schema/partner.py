"""``partner``: what a partner bank's window system may see — its own branches' appointments.

Only for partner callers, only the appointments booked through the hub at that partner's
bank, with the applicant's name and ID number masked.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import strawberry

from connectors.bank import models as m
from schema.bank import Bank, bank_loaders
from schema.bank_appointments import WindowAppointment, appointment_of
from schema.consents_partner import PartnerConsent, live_consent
from schema.context import CallerKind, HubInfo
from schema.errors import Forbidden
from schema.masking import Identifier, shown


@strawberry.type(
    description="Who an appointment is for, masked for the bank: 张*, 4403**********1234."
)
class Applicant:
    name: str
    id_number: str


@strawberry.type(description="An appointment at the partner's window, with its applicant.")
class PartnerAppointment:
    appointment: WindowAppointment
    applicant: Applicant | None


@strawberry.type(description="合作银行视图 · The partner's own view: appointments at its branches.")
class PartnerView:
    bank: strawberry.Private[Bank]

    @strawberry.field(description="Appointments booked through i罗湖 at your branches on a day.")
    async def appointments(self, info: HubInfo, date: dt.date) -> list[PartnerAppointment] | None:
        linked = await info.context.records.appointments_at(self.bank.value)
        loader = bank_loaders(info, self.bank).appointment_by_number
        found = await loader.load_many([link.number for _, link in linked])
        profiles = await asyncio.gather(
            *(info.context.directory.profile(resident_id) for resident_id, _ in linked)
        )
        answer, principal = [], info.context.principal
        for (resident_id, _), appointment, profile in zip(linked, found, profiles, strict=True):
            if not isinstance(appointment, m.Appointment) or appointment.date != date:
                continue
            info.context.audit.subjects.add(resident_id)  # the bank sees their appointment
            applicant = (
                Applicant(
                    name=shown(principal, Identifier.NAME, profile.name),
                    id_number=shown(principal, Identifier.ID_NUMBER, profile.id_number),
                )
                if profile
                else None
            )
            answer.append(
                PartnerAppointment(appointment=appointment_of(appointment), applicant=applicant)
            )
        return sorted(answer, key=lambda a: (a.appointment.slot, str(a.appointment.number)))

    @strawberry.field(
        description="帮办 · A resident's consent your window redeemed (`redeemConsent`): the "
        "granted fields of that resident, while it is live."
    )
    async def consent(self, info: HubInfo, id: strawberry.ID) -> PartnerConsent | None:
        return PartnerConsent(record=await live_consent(info, str(id)))


@strawberry.type
class PartnerQuery:
    @strawberry.field(description="合作银行专用 · For partner banks' systems only: their own view.")
    def partner(self, info: HubInfo) -> PartnerView | None:
        principal = info.context.principal
        if principal.kind is not CallerKind.PARTNER or principal.partner_bank is None:
            raise Forbidden("Only a partner bank's system may ask for this.")
        return PartnerView(bank=Bank(principal.partner_bank))
