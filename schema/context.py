"""What resolvers may rely on in ``info.context``, as protocols the hub implements.

The schema depends on these shapes, never on the hub itself: the hub builds the context,
the schema reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol, TypeVar

from strawberry.types import Info

L = TypeVar("L")


class CallerKind(Enum):
    ANONYMOUS = "anonymous"
    RESIDENT = "resident"


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``auth_problem`` says why a presented credential was not accepted."""

    kind: CallerKind
    resident_id: str | None = None
    auth_problem: str | None = None

    @classmethod
    def anonymous(cls, problem: str | None = None) -> Principal:
        return cls(CallerKind.ANONYMOUS, auth_problem=problem)

    @classmethod
    def resident(cls, resident_id: str) -> Principal:
        return cls(CallerKind.RESIDENT, resident_id=resident_id)


@dataclass(frozen=True)
class CommunityProfile:
    id: str
    name: str
    street: str
    longitude: float
    latitude: float


@dataclass(frozen=True)
class ResidentProfile:
    id: str
    name: str
    community: CommunityProfile


class ResidentDirectory(Protocol):
    """The hub's own records about residents (its database, cached)."""

    async def profile(self, resident_id: str) -> ResidentProfile | None: ...


class LoaderRegistry(Protocol):
    """Per-request loaders, created on first use: ``loaders.get(GarbageLoaders)``."""

    def get(self, kind: type[L]) -> L: ...


class HubContextProtocol(Protocol):
    request_id: str
    principal: Principal
    loaders: LoaderRegistry
    directory: ResidentDirectory


HubInfo = Info[HubContextProtocol, None]
