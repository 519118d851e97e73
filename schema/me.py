"""``me``: the signed-in resident and their personal view across departments."""

from __future__ import annotations

import strawberry

from connectors.garbage import GarbageLoaders
from schema.common import current_resident
from schema.context import HubInfo, ResidentProfile
from schema.garbage import CollectionPoint, collection_point_of
from schema.household import Household
from schema.library import MyLibrary


@strawberry.type(description="A residential community (社区) of Luohu district.")
class Community:
    id: strawberry.ID
    name: str
    street: str = strawberry.field(description="The sub-district (街道) it belongs to.")
    longitude: float
    latitude: float

    @strawberry.field(description="Where this community's sorted waste is collected.")
    async def collection_points(self, info: HubInfo) -> list[CollectionPoint] | None:
        loader = info.context.loaders.get(GarbageLoaders).collection_points_by_community
        return [collection_point_of(point) for point in await loader.load(str(self.id))]


@strawberry.type(description="The signed-in resident.")
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
        c = self.profile.community
        return Community(
            id=strawberry.ID(c.id),
            name=c.name,
            street=c.street,
            longitude=c.longitude,
            latitude=c.latitude,
        )


def me_of(profile: ResidentProfile) -> Me:
    return Me(
        resident_id=strawberry.ID(profile.id),
        name=profile.name,
        profile=profile,
    )


@strawberry.type
class MeQuery:
    @strawberry.field(description="The signed-in resident; needs a resident bearer token.")
    async def me(self, info: HubInfo) -> Me | None:
        return me_of(await current_resident(info))
