"""``me``: the signed-in resident and their personal view across departments."""

from __future__ import annotations

import strawberry

from schema.access_log import DataAccessConnection, data_access_log
from schema.approvals import ServiceApplication, my_applications
from schema.bank_appointments import WindowAppointment, my_appointments
from schema.common import current_resident
from schema.community import Community, community_of
from schema.consents import Consent, my_consents
from schema.context import HubInfo, ResidentProfile
from schema.household import Household
from schema.library import MyLibrary
from schema.locks import Key, my_keys
from schema.offers import Offer, my_offers
from schema.services import MyServices


@strawberry.type(description="当前居民 · The signed-in resident.")
class Me:
    resident_id: strawberry.ID
    name: str
    profile: strawberry.Private[ResidentProfile]

    @strawberry.field(description="The resident's library card, loans and holds.")
    def library(self) -> MyLibrary | None:
        return MyLibrary(card_id=self.profile.accounts.library_card)

    @strawberry.field(description="The people the resident lives with.")
    def household(self) -> Household | None:
        return Household(id=strawberry.ID(self.profile.household_id), resident=self.profile)

    @strawberry.field(description="The community the resident lives in.")
    def community(self) -> Community | None:
        return community_of(self.profile.community)

    @strawberry.field(
        description="一网通办 · Government services for the resident: recommendations by age "
        "and household, items with their own community first, pre-filled scenario forms."
    )
    def services(self) -> MyServices | None:
        return MyServices(resident=self.profile)

    @strawberry.field(
        description="秒批 · The resident's applications for instant-approval items, newest "
        "first, each with its decision: outcome, reasons, and the evidence it rested on."
    )
    async def applications(self, info: HubInfo) -> list[ServiceApplication] | None:
        return await my_applications(info, self.profile.id)

    @strawberry.field(
        description="主动推送 · Services offered to the resident before they asked, newest "
        "first: which item, why (UPCOMING or NOW), from when, until when, and where it stands."
    )
    async def offers(self, info: HubInfo) -> list[Offer] | None:
        return await my_offers(info, self.profile)

    @strawberry.field(description="Keys to the gates, barriers and doors the resident may open.")
    async def keys(self, info: HubInfo) -> list[Key] | None:
        return await my_keys(info, self.profile)

    @strawberry.field(description="Appointments booked at bank windows, with their live status.")
    async def window_appointments(self, info: HubInfo) -> list[WindowAppointment] | None:
        return await my_appointments(info, self.profile.id)

    @strawberry.field(
        description="授权 · The consents you gave banks' windows (帮办), newest first."
    )
    async def consents(self, info: HubInfo, first: int = 20) -> list[Consent] | None:
        return await my_consents(info, self.profile.id, first)

    @strawberry.field(
        description="Who read or changed your personal data through the hub, when and for "
        "what (your own apps included), newest first."
    )
    async def data_access_log(
        self, info: HubInfo, first: int = 20, after: str | None = None
    ) -> DataAccessConnection | None:
        return await data_access_log(info, self.profile.id, first=first, after=after)


def me_of(profile: ResidentProfile) -> Me:
    return Me(
        resident_id=strawberry.ID(profile.id),
        name=profile.name,
        profile=profile,
    )


@strawberry.type
class MeQuery:
    @strawberry.field(description="我的 · The signed-in resident; needs a resident bearer token.")
    async def me(self, info: HubInfo) -> Me | None:
        return me_of(await current_resident(info))
