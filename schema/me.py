"""``me``: the signed-in resident and their personal view across departments."""

from __future__ import annotations

import strawberry

from connectors.garbage import GarbageLoaders
from schema.context import CallerKind, CommunityProfile, HubInfo, ResidentProfile
from schema.errors import Unauthenticated
from schema.garbage import CollectionPoint, collection_point_of


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
    community_profile: strawberry.Private[CommunityProfile]

    @strawberry.field(description="The community the resident lives in.")
    def community(self) -> Community | None:
        c = self.community_profile
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
        community_profile=profile.community,
    )


@strawberry.type
class MeQuery:
    @strawberry.field(description="The signed-in resident; needs a resident bearer token.")
    async def me(self, info: HubInfo) -> Me | None:
        principal = info.context.principal
        if principal.kind is not CallerKind.RESIDENT or principal.resident_id is None:
            problem = principal.auth_problem or "no bearer token was sent"
            raise Unauthenticated(f"A valid resident token is required: {problem}.")
        profile = await info.context.directory.profile(principal.resident_id)
        if profile is None:
            raise Unauthenticated("The token's resident is not known to the hub.")
        return me_of(profile)
