"""``me.household``: the people the resident lives with, and what they may act on for them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from enum import Enum

import strawberry

from connectors.youth import YouthLoaders
from schema.common import age_on
from schema.context import HubInfo, Person, ResidentProfile
from schema.errors import Forbidden
from schema.youth import CourseApplication, applications_with_courses

CHINA = dt.timezone(dt.timedelta(hours=8))


@strawberry.enum(description="An adult resident, or a child registered with the household.")
class MemberKind(Enum):
    ADULT = "ADULT"
    CHILD = "CHILD"


@strawberry.type(description="A household member's youth-center membership.")
class MemberYouthCenter:
    member_number: str

    @strawberry.field(description="The member's course applications, newest first.")
    async def applications(self, info: HubInfo) -> list[CourseApplication] | None:
        loader = info.context.loaders.get(YouthLoaders).applications_by_member
        found = sorted(
            await loader.load(self.member_number), key=lambda a: a.created_at, reverse=True
        )
        return await applications_with_courses(info, found)


@strawberry.type(description="Someone in the resident's household.")
class HouseholdMember:
    id: strawberry.ID = strawberry.field(description="Resident id, or a child's member number.")
    name: str
    age: int
    kind: MemberKind
    is_me: bool = strawberry.field(description="True for the signed-in resident.")
    member_no: strawberry.Private[str | None]

    @strawberry.field(description="Youth-center membership, if the member has one.")
    def youth_center(self) -> MemberYouthCenter | None:
        return MemberYouthCenter(member_number=self.member_no) if self.member_no else None


def member_of(person: Person, resident: ResidentProfile, today: dt.date) -> HouseholdMember:
    return HouseholdMember(
        id=strawberry.ID(person.resident_id or person.member_no or ""),
        name=person.name,
        age=age_on(person.birth_date, today),
        kind=MemberKind.ADULT if person.resident_id else MemberKind.CHILD,
        is_me=person.resident_id == resident.id,
        member_no=person.member_no,
    )


def _audit_housemates(info: HubInfo, people: Sequence[Person]) -> None:
    """Housemates with their own i罗湖 account are subjects too: their name and age are shown."""
    info.context.audit.subjects.update(p.resident_id for p in people if p.resident_id)


@strawberry.type(description="The resident's household.")
class Household:
    id: strawberry.ID
    resident: strawberry.Private[ResidentProfile]

    @strawberry.field(description="Everyone in the household, adults first.")
    def members(self, info: HubInfo) -> list[HouseholdMember]:
        today = dt.datetime.now(CHINA).date()
        _audit_housemates(info, self.resident.household)
        return [member_of(person, self.resident, today) for person in self.resident.household]

    @strawberry.field(description="One member by id; FORBIDDEN for anyone outside the household.")
    def member(self, info: HubInfo, id: strawberry.ID) -> HouseholdMember:
        today = dt.datetime.now(CHINA).date()
        for person in self.resident.household:
            if str(id) in (person.resident_id, person.member_no):
                _audit_housemates(info, [person])
                return member_of(person, self.resident, today)
        raise Forbidden("That person is not in your household.", field="id")
