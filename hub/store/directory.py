"""Residents, their household and their department accounts, from the hub's database.

Profiles are cached briefly (they change rarely; links are changed by operators, and a
minute's delay is acceptable). Authorisation reads account ids from here, never from input.
"""

from __future__ import annotations

from functools import partial

from cachetools import TTLCache
from sqlmodel import Session, select

from connectors.singleflight import InFlight
from hub.store.db import Database
from hub.store.models import AccountLink, Community, HouseholdChild, Resident
from schema.context import Accounts, CommunityProfile, Person, ResidentProfile


class SqlResidentDirectory:
    """``schema.context.ResidentDirectory`` over the hub's tables."""

    def __init__(self, database: Database, *, ttl_s: float = 60.0, maxsize: int = 10_000) -> None:
        self._database = database
        self._profiles: TTLCache[str, ResidentProfile | None] = TTLCache(maxsize, ttl_s)
        self._communities: TTLCache[str, CommunityProfile | None] = TTLCache(1_000, ttl_s)
        self._all: TTLCache[str, tuple[CommunityProfile, ...]] = TTLCache(1, ttl_s)
        self._loading = InFlight()  # a burst of one resident's requests: one load

    async def community(self, community_id: str) -> CommunityProfile | None:
        if community_id in self._communities:
            return self._communities[community_id]
        return await self._loading.run(
            ("community", community_id), partial(self._community, community_id)
        )

    async def communities(self) -> tuple[CommunityProfile, ...]:
        if "all" in self._all:
            return self._all["all"]
        return await self._loading.run(("communities",), self._load_communities)

    async def _load_communities(self) -> tuple[CommunityProfile, ...]:
        statement = select(Community).order_by(Community.id)
        found = await self._database.run(
            lambda session: tuple(_community(c) for c in session.exec(statement).all())
        )
        self._all["all"] = found
        return found

    async def profile(self, resident_id: str) -> ResidentProfile | None:
        if resident_id in self._profiles:
            return self._profiles[resident_id]
        return await self._loading.run(
            ("profile", resident_id), partial(self._profile, resident_id)
        )

    async def _community(self, community_id: str) -> CommunityProfile | None:
        found = await self._database.run(lambda session: session.get(Community, community_id))
        profile = self._communities[community_id] = _community(found) if found else None
        return profile

    async def _profile(self, resident_id: str) -> ResidentProfile | None:
        profile = await self._database.run(lambda session: load_profile(session, resident_id))
        self._profiles[resident_id] = profile
        return profile


def load_profile(session: Session, resident_id: str) -> ResidentProfile | None:
    resident = session.get(Resident, resident_id)
    if resident is None:
        return None
    community = session.get(Community, resident.community_id)
    assert community is not None  # a foreign key
    adults = session.exec(
        select(Resident).where(Resident.household_id == resident.household_id).order_by(Resident.id)
    ).all()
    children = session.exec(
        select(HouseholdChild)
        .where(HouseholdChild.household_id == resident.household_id)
        .order_by(HouseholdChild.id)
    ).all()
    links = session.exec(select(AccountLink).where(AccountLink.resident_id == resident_id)).all()
    by_kind: dict[tuple[str, str], list[str]] = {}
    for link in links:
        by_kind.setdefault((link.department, link.kind), []).append(link.account_id)
    return ResidentProfile(
        id=resident.id,
        name=resident.name,
        birth_date=resident.birth_date,
        id_number=resident.id_number,
        community=_community(community),
        household_id=resident.household_id,
        household=(
            *(Person(a.name, a.birth_date, resident_id=a.id) for a in adults),
            *(Person(c.name, c.birth_date, member_no=c.id) for c in children),
        ),
        accounts=Accounts(
            library_card=next(iter(by_kind.get(("library", "card"), [])), None),
            lock_uid=next(iter(by_kind.get(("locks", "uid"), [])), None),
            youth_members=tuple(
                sorted({*by_kind.get(("youth", "member"), []), *(c.id for c in children)})
            ),
        ),
    )


def _community(community: Community) -> CommunityProfile:
    return CommunityProfile(
        id=community.id,
        name=community.name,
        street=community.street,
        longitude=community.longitude,
        latitude=community.latitude,
    )
