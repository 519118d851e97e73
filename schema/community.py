"""Communities (社区): the hub's own reference data, with their collection points."""

from __future__ import annotations

import strawberry

from connectors.garbage import GarbageLoaders
from schema.context import CommunityProfile, HubInfo
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


def community_of(profile: CommunityProfile) -> Community:
    return Community(
        id=strawberry.ID(profile.id),
        name=profile.name,
        street=profile.street,
        longitude=profile.longitude,
        latitude=profile.latitude,
    )
