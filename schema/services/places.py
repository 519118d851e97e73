"""Where an item can be done (办理地点): the hall, street and community centres, 24-hour kiosks
and the partner banks' windows, nearest first when the caller says where they are.

The places follow from an item's channels and the hub's own reference data, by rule:

| channel     | places                                                                 |
|-------------|------------------------------------------------------------------------|
| `hall`      | the district's service hall (``HALL``)                                 |
| `street`    | each street's (街道) service centre, at the middle of its communities  |
| `community` | each community's (社区) party-and-service centre, at the community     |
| `kiosk24h`  | the 24-hour self-service area of the hall and of each street centre    |
| `bank`      | the bank branches whose windows list the item's ``local_code``         |

Banks are asked only for items with the ``bank`` channel, through the banks' connectors (their
branch lists are cached and shared by concurrent reads: many items' branches cost one call per
bank). The resident's own community and street come first when the item is read under ``me``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import strawberry

from connectors.bank import models as bm
from connectors.catalogue.models import Channel, Item
from connectors.errors import ConnectorError
from schema.bank import Bank, BankBranch, Location, branch_of, distance_meters, each_bank
from schema.community import Community, community_of
from schema.context import CommunityProfile, HubInfo
from schema.errors import report_partial_failure


@dataclass(frozen=True)
class Site:
    name: str
    address: str
    latitude: float
    longitude: float
    hours: str


HALL = Site(
    name="罗湖区政务服务中心",
    address="深圳市罗湖区文锦中路1008号",
    latitude=22.5484,
    longitude=114.1315,
    hours="周一至周五 9:00-12:00, 14:00-18:00；周六 9:00-12:00",
)
"""The district's service hall (dev reference data: correct it here)."""
STREET_HOURS = "周一至周五 9:00-12:00, 14:00-18:00"
COMMUNITY_HOURS = "周一至周六 9:00-12:00, 14:30-18:00"
KIOSK_HOURS = "24小时"
LOCAL_CHANNELS = frozenset({Channel.STREET, Channel.COMMUNITY, Channel.KIOSK_24H})


@strawberry.enum(description="办理地点类型 · The kinds of place where items are done.")
class PlaceKind(Enum):
    HALL = "hall"
    STREET_CENTRE = "street"
    COMMUNITY_CENTRE = "community"
    KIOSK_24H = "kiosk24h"
    BANK_WINDOW = "bank"


@strawberry.type(description="办理地点 · A place where an item can be done.")
class ServicePlace:
    kind: PlaceKind
    name: str
    address: str
    street: str | None = strawberry.field(description="The sub-district (街道), when local.")
    latitude: float
    longitude: float
    hours: str = strawberry.field(description="Opening hours, as posted.")
    distance_meters: int | None = strawberry.field(
        description="Straight-line distance from `near`, when given."
    )
    mine: bool = strawberry.field(
        description="The signed-in resident's own community or street (only under `me`)."
    )
    community_profile: strawberry.Private[CommunityProfile | None] = None
    bank_branch: BankBranch | None = strawberry.field(
        default=None, description="The bank branch, for a bank window (with its live queue)."
    )

    @strawberry.field(description="The community, for a community centre.")
    def community(self) -> Community | None:
        return community_of(self.community_profile) if self.community_profile else None


def _place(
    kind: PlaceKind, site: Site, near: Location | None, *, street: str | None = None
) -> ServicePlace:
    return ServicePlace(
        kind=kind,
        name=site.name,
        address=site.address,
        street=street,
        latitude=site.latitude,
        longitude=site.longitude,
        hours=site.hours,
        distance_meters=distance_meters(near, site.latitude, site.longitude) if near else None,
        mine=False,
    )


def _streets(communities: Sequence[CommunityProfile]) -> dict[str, Site]:
    """Each street's centre, at the mean position of its communities (in the hub's order)."""
    members: dict[str, list[CommunityProfile]] = {}
    for community in communities:
        members.setdefault(community.street, []).append(community)
    return {
        street: Site(
            name=f"{street}便民服务中心",
            address=f"深圳市罗湖区{street}",
            latitude=round(sum(c.latitude for c in found) / len(found), 6),
            longitude=round(sum(c.longitude for c in found) / len(found), 6),
            hours=STREET_HOURS,
        )
        for street, found in members.items()
    }


async def item_branches(info: HubInfo, item: Item) -> list[bm.Branch]:
    """Both banks' branches whose windows handle ``item`` (none asked unless it is a bank item)."""
    if Channel.BANK not in item.channels:
        return []
    found = await each_bank(info, list(Bank), "branches")
    return [
        branch
        for answer in found.values()
        for branch in answer
        if isinstance(branch, bm.Branch) and item.local_code in branch.item_codes
    ]


def nearest_first(nodes: list[BankBranch]) -> list[BankBranch]:
    return sorted(nodes, key=lambda n: (n.distance_meters or 0, n.name))


async def places_of(
    info: HubInfo, item: Item, near: Location | None, mine: CommunityProfile | None
) -> list[ServicePlace]:
    """Every place ``item`` can be done at: the resident's own first, then nearest first (with
    ``near``) or in the order of the table above."""
    channels = set(item.channels)
    places: list[ServicePlace] = []
    if Channel.HALL in channels:
        places.append(_place(PlaceKind.HALL, HALL, near))
    communities = await info.context.directory.communities() if channels & LOCAL_CHANNELS else ()
    streets = _streets(communities)
    if Channel.STREET in channels:
        for street, site in streets.items():
            place = _place(PlaceKind.STREET_CENTRE, site, near, street=street)
            place.mine = mine is not None and street == mine.street
            places.append(place)
    if Channel.COMMUNITY in channels:
        for community in communities:
            site = Site(
                name=f"{community.name}党群服务中心",
                address=f"深圳市罗湖区{community.street}{community.name}",
                latitude=community.latitude,
                longitude=community.longitude,
                hours=COMMUNITY_HOURS,
            )
            place = _place(PlaceKind.COMMUNITY_CENTRE, site, near, street=community.street)
            place.community_profile = community
            place.mine = mine is not None and community.id == mine.id
            places.append(place)
    if Channel.KIOSK_24H in channels:
        kiosks = {"": HALL, **streets}
        for street, site in kiosks.items():
            kiosk = Site(
                f"{site.name}24小时自助服务区",
                site.address,
                site.latitude,
                site.longitude,
                KIOSK_HOURS,
            )
            places.append(_place(PlaceKind.KIOSK_24H, kiosk, near, street=street or None))
    try:
        branches = await item_branches(info, item)
    except ConnectorError as failure:  # both banks failed: the other places still answer
        report_partial_failure(info, failure)
        branches = []
    for branch in branches:
        node = branch_of(branch, near)
        site = Site(node.name, node.address, node.latitude, node.longitude, node.hours)
        place = _place(PlaceKind.BANK_WINDOW, site, near)
        place.bank_branch = node
        places.append(place)
    # a stable sort: without `near`, the table's order stays among equals
    return sorted(places, key=lambda p: (not p.mine, p.distance_meters or 0))
