"""Partner bank windows (银行政务服务窗口): branches, live queues, government items."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Sequence
from enum import Enum

import strawberry

from connectors.bank import BankLoaders, CcbLoaders, IcbcLoaders
from connectors.bank import models as m
from schema.common import in_place
from schema.context import HubInfo
from schema.errors import BadUserInput, report_partial_failure
from schema.pagination import PageInfo, check_first, decode_cursor, encode_cursor, page_info


@strawberry.enum(description="The partner banks with government-service windows.")
class Bank(Enum):
    ICBC = "icbc"
    CCB = "ccb"


LOADERS: dict[Bank, type[BankLoaders]] = {Bank.ICBC: IcbcLoaders, Bank.CCB: CcbLoaders}


def bank_loaders(info: HubInfo, bank: Bank) -> BankLoaders:
    return info.context.loaders.get(LOADERS[bank])


@strawberry.type(description="The queue at a branch's window right now.")
class BankQueue:
    waiting: int
    estimated_wait_minutes: int
    updated_at: dt.datetime


@strawberry.type(description="A government service item handled at bank windows.")
class GovItem:
    code: strawberry.ID = strawberry.field(description="Shared by both banks, e.g. SB-0001.")
    name: str
    department: str = strawberry.field(description="The government department behind it.")
    materials: list[str] = strawberry.field(description="What to bring.")
    banks: list[Bank] = strawberry.field(description="The banks whose windows handle it.")


def item_of(item: m.GovItem, banks: Sequence[Bank]) -> GovItem:
    return GovItem(
        code=strawberry.ID(item.code),
        name=item.name,
        department=item.department,
        materials=list(item.materials),
        banks=list(banks),
    )


@strawberry.federation.type(
    keys=["bank id"],
    description="A bank branch with a government-service window (an entity: `@key(bank id)`).",
)
class BankBranch:
    id: strawberry.ID
    bank: Bank
    name: str
    address: str
    hours: str
    longitude: float
    latitude: float
    distance_meters: int | None = strawberry.field(
        description="Straight-line distance from `near`, when given."
    )
    item_codes: strawberry.Private[tuple[str, ...]]

    @strawberry.field(description="The queue now (refreshed at most every 30 seconds).")
    def queue(self, info: HubInfo) -> BankQueue | None:
        loaders = bank_loaders(info, self.bank)
        fresh = loaders.connector.fresh_queue(str(self.id))
        return in_place(fresh, _queue_of, lambda: self._load_queue(loaders))

    async def _load_queue(self, loaders: BankLoaders) -> BankQueue | None:
        found = await loaders.queue_by_branch.load(str(self.id))
        return None if found is None else _queue_of(found)

    @classmethod
    async def resolve_reference(cls, info: HubInfo, bank: str, id: str) -> BankBranch | None:
        """A gateway's reference: from the bank's branch list (one cached call per bank)."""
        if bank not in Bank.__members__:
            known = ", ".join(Bank.__members__)
            raise BadUserInput(f"`bank` must be one of {known}.", field="representations")
        branches = await bank_loaders(info, Bank[bank]).connector.branches()
        found = next((b for b in branches if b.id == id), None)
        return branch_of(found, None) if found else None

    @strawberry.field(description="The government items this branch's window handles.")
    async def items(self, info: HubInfo) -> list[GovItem] | None:
        known = {i.code: i for i in await bank_loaders(info, self.bank).connector.items()}
        return [item_of(known[c], [self.bank]) for c in self.item_codes if c in known]


def _queue_of(queue: m.Queue) -> BankQueue:
    return BankQueue(
        waiting=queue.waiting,
        estimated_wait_minutes=queue.estimated_wait_minutes,
        updated_at=queue.updated_at,
    )


def branch_of(branch: m.Branch, near: Location | None) -> BankBranch:
    return BankBranch(
        id=strawberry.ID(branch.id),
        bank=Bank(branch.bank.value),
        name=branch.name,
        address=branch.address,
        hours=branch.hours,
        longitude=branch.longitude,
        latitude=branch.latitude,
        distance_meters=_distance(near, branch) if near else None,
        item_codes=branch.item_codes,
    )


@strawberry.input(description="A point on the map (WGS-84).")
class Location:
    latitude: float
    longitude: float


def _distance(near: Location, branch: m.Branch) -> int:
    return distance_meters(near, branch.latitude, branch.longitude)


def check_location(near: Location | None) -> None:
    """A ``near`` off the globe is bad input."""
    if near and not (-90 <= near.latitude <= 90 and -180 <= near.longitude <= 180):
        raise BadUserInput("`near` is not a valid location.", field="near")


def distance_meters(near: Location, latitude: float, longitude: float) -> int:
    """Haversine distance in metres from ``near``: good to a few metres at district scale."""
    lat1, lat2 = math.radians(near.latitude), math.radians(latitude)
    dlat, dlon = lat2 - lat1, math.radians(longitude - near.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return round(2 * 6_371_000 * math.asin(math.sqrt(h)))


@strawberry.type(description="A branch edge in a list.")
class BankBranchEdge:
    cursor: str
    node: BankBranch


@strawberry.type(description="A page of branches, nearest first when `near` is given.")
class BankBranchConnection:
    edges: list[BankBranchEdge]
    page_info: PageInfo
    total_count: int


async def each_bank(
    info: HubInfo, banks: Sequence[Bank], what: str
) -> dict[Bank, tuple[m.Branch, ...] | tuple[m.GovItem, ...]]:
    """Ask every bank at once; a failing bank is reported, the others still answer."""
    calls = [getattr(bank_loaders(info, bank).connector, what)() for bank in banks]
    answers = await asyncio.gather(*calls, return_exceptions=True)
    found: dict[Bank, tuple[m.Branch, ...] | tuple[m.GovItem, ...]] = {}
    failures = []
    for bank, answer in zip(banks, answers, strict=True):
        if isinstance(answer, Exception):
            failures.append(answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            found[bank] = answer
    if failures and not found:  # the field fails; every bank still says it failed
        for failure in failures[1:]:
            report_partial_failure(info, failure)
        raise failures[0]
    for failure in failures:
        report_partial_failure(info, failure)
    return found


@strawberry.type(description="银行政务窗口 · Government services at partner banks' windows.")
class BankWindows:
    @strawberry.field(description="Branches with government windows, filtered and paged.")
    async def branches(
        self,
        info: HubInfo,
        bank: Bank | None = None,
        item_code: str | None = None,
        near: Location | None = None,
        first: int = 10,
        after: str | None = None,
    ) -> BankBranchConnection | None:
        limit, offset = check_first(first), decode_cursor("branch", after)
        check_location(near)
        found = await each_bank(info, [bank] if bank else list(Bank), "branches")
        branches = [b for answer in found.values() for b in answer if isinstance(b, m.Branch)]
        if item_code:
            branches = [b for b in branches if item_code in b.item_codes]
        nodes = [branch_of(b, near) for b in branches]
        if near:
            nodes.sort(key=lambda n: (n.distance_meters or 0, n.name))
        page = nodes[offset : offset + limit]
        edges = [
            BankBranchEdge(cursor=encode_cursor("branch", offset + i), node=node)
            for i, node in enumerate(page)
        ]
        return BankBranchConnection(
            edges=edges,
            page_info=page_info("branch", offset, len(edges), len(nodes)),
            total_count=len(nodes),
        )

    @strawberry.field(description="Government items by name or code, with the banks handling them.")
    async def items(
        self, info: HubInfo, query: str | None = None, bank: Bank | None = None
    ) -> list[GovItem] | None:
        found = await each_bank(info, [bank] if bank else list(Bank), "items")
        merged: dict[str, tuple[m.GovItem, list[Bank]]] = {}
        for bank, answer in found.items():
            for item in answer:
                if isinstance(item, m.GovItem):
                    merged.setdefault(item.code, (item, []))[1].append(bank)
        wanted = (query or "").strip().casefold()
        return [
            item_of(item, banks)
            for code, (item, banks) in sorted(merged.items())
            if not wanted or wanted in item.name.casefold() or code.casefold().startswith(wanted)
        ]


@strawberry.type
class BankQuery:
    @strawberry.field(
        description="银行政务窗口 · Bank windows for government services. Public: no token needed."
    )
    def bank_windows(self) -> BankWindows | None:
        return BankWindows()
