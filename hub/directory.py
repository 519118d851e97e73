"""Residents and their communities, read from the hub's database and cached briefly."""

from __future__ import annotations

from cachetools import TTLCache
from sqlmodel import Session, select

from hub.db import Database
from hub.models import Community, Resident
from schema.context import CommunityProfile, ResidentProfile


class SqlResidentDirectory:
    """``schema.context.ResidentDirectory`` over the hub's tables."""

    def __init__(self, database: Database, *, ttl_s: float = 60.0, maxsize: int = 10_000) -> None:
        self._database = database
        self._profiles: TTLCache[str, ResidentProfile | None] = TTLCache(maxsize, ttl_s)

    async def profile(self, resident_id: str) -> ResidentProfile | None:
        if resident_id in self._profiles:
            return self._profiles[resident_id]
        profile = await self._database.run(lambda session: _load_profile(session, resident_id))
        self._profiles[resident_id] = profile
        return profile


def _load_profile(session: Session, resident_id: str) -> ResidentProfile | None:
    row = session.exec(
        select(Resident, Community)
        .join(Community, Community.id == Resident.community_id)  # type: ignore[arg-type]
        .where(Resident.id == resident_id)
    ).first()
    if row is None:
        return None
    resident, community = row
    return ResidentProfile(
        id=resident.id,
        name=resident.name,
        community=CommunityProfile(
            id=community.id,
            name=community.name,
            street=community.street,
            longitude=community.longitude,
            latitude=community.latitude,
        ),
    )
