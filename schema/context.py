"""What resolvers may rely on in ``info.context``, as protocols the hub implements.

The schema depends on these shapes, never on the hub itself: the hub builds the context,
the schema reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Protocol, TypeVar

from graphql import GraphQLError
from strawberry.types import Info

L = TypeVar("L")


class CallerKind(Enum):
    ANONYMOUS = "anonymous"
    RESIDENT = "resident"
    PARTNER = "partner"


@dataclass(frozen=True)
class Principal:
    """Who is calling. ``auth_problem`` says why a presented credential was not accepted.

    A partner (a bank's window system) is ``partner_id``; ``partner_bank`` is the bank whose
    branches' appointments it may see.
    """

    kind: CallerKind
    resident_id: str | None = None
    partner_id: str | None = None
    partner_bank: str | None = None
    auth_problem: str | None = None

    @classmethod
    def anonymous(cls, problem: str | None = None) -> Principal:
        return cls(CallerKind.ANONYMOUS, auth_problem=problem)

    @classmethod
    def resident(cls, resident_id: str) -> Principal:
        return cls(CallerKind.RESIDENT, resident_id=resident_id)

    @classmethod
    def partner(cls, partner_id: str, bank: str | None) -> Principal:
        return cls(CallerKind.PARTNER, partner_id=partner_id, partner_bank=bank)


@dataclass(frozen=True)
class CommunityProfile:
    id: str
    name: str
    street: str
    longitude: float
    latitude: float


@dataclass(frozen=True)
class Accounts:
    """The department accounts the hub's links give a resident; never taken from input."""

    library_card: str | None = None
    lock_uid: str | None = None
    youth_members: tuple[str, ...] = ()
    """Youth-center member numbers the resident acts for: their own, their household's children."""


@dataclass(frozen=True)
class Person:
    """Someone in a household: a resident (``resident_id``) or a child (``member_no``)."""

    name: str
    birth_date: date
    resident_id: str | None = None
    member_no: str | None = None


@dataclass(frozen=True)
class ResidentProfile:
    id: str
    name: str
    birth_date: date
    id_number: str
    community: CommunityProfile
    household_id: str
    household: tuple[Person, ...]
    accounts: Accounts


class ResidentDirectory(Protocol):
    """The hub's own records about residents (its database, cached)."""

    async def profile(self, resident_id: str) -> ResidentProfile | None: ...

    async def community(self, community_id: str) -> CommunityProfile | None: ...


@dataclass(frozen=True)
class LinkedAppointment:
    bank: str
    number: str


class HubRecords(Protocol):
    """What the hub itself remembers on residents' behalf (its database)."""

    def applicant_ref(self, resident_id: str) -> str:
        """The opaque, keyed reference a bank sees instead of the resident."""
        ...

    async def link_appointment(self, resident_id: str, bank: str, number: str) -> None: ...

    async def appointments_of(self, resident_id: str) -> list[LinkedAppointment]: ...

    async def appointments_at(self, bank: str) -> list[tuple[str, LinkedAppointment]]:
        """Every appointment booked through the hub at ``bank``, with who booked it."""
        ...

    async def reserve_door_attempt(self, resident_id: str, lock_id: int) -> int | None:
        """Atomically take one of the resident's attempts for the last minute (recorded as
        pending) before the unlock: its id, or None once they are used up (refusal recorded)."""
        ...

    async def settle_door_attempt(self, attempt_id: int, outcome: str) -> None:
        """Record the outcome of a reserved attempt."""
        ...


class IdempotencyStore(Protocol):
    """Runs a mutation's side effect once per (scope, key) and remembers its outcome.

    ``perform`` gets the key to pass upstream (derived, so no client key reaches a
    department) and returns the outcome as JSON text; every repeat gets that text back.
    Raises ``IdempotencyKeyReused`` for the same key with another request and
    ``MutationInProgress`` when the first attempt has not finished in time.
    """

    async def run(
        self,
        *,
        scope: str,
        key: str,
        fingerprint: str,
        perform: Callable[[str], Awaitable[str]],
    ) -> str: ...


class LoaderRegistry(Protocol):
    """Per-request loaders, created on first use: ``loaders.get(GarbageLoaders)``."""

    def get(self, kind: type[L]) -> L: ...

    @property
    def departments(self) -> frozenset[str]:
        """The departments this request has used loaders (and so connectors) of."""
        ...


@dataclass(frozen=True)
class AuditEntry:
    """One operation's access to residents' personal data: who, whose, what — never values.

    ``principal_kind`` is the caller's kind as given (resident, partner, developer);
    ``fields`` are field paths (``me.library.loans``); ``outcome`` is ok, partial or error.
    """

    request_id: str
    principal_kind: str
    principal: str
    subjects: tuple[str, ...]
    operation_name: str | None
    document_hash: str
    departments: tuple[str, ...]
    fields: tuple[str, ...]
    outcome: str


@dataclass(frozen=True)
class LoggedAccess:
    """An audit record as the log keeps it: its place in the chain and when it was written."""

    seq: int
    at: datetime
    entry: AuditEntry


class AuditLog(Protocol):
    """The append-only, tamper-evident log of access to residents' personal data."""

    async def append(self, entry: AuditEntry) -> None:
        """Write ``entry`` durably, or raise: the caller then withholds the personal data."""
        ...

    async def accesses_to(
        self, resident_id: str, *, first: int, before_seq: int | None = None
    ) -> list[LoggedAccess]:
        """Records naming ``resident_id`` as a subject, newest first, older than ``before_seq``."""
        ...


@dataclass
class AuditTrail:
    """Whose personal data one request touched, noted by resolvers while it runs.

    The audit extension adds the signed-in resident for ``me`` and mutations; resolvers that
    return other residents' data (a bank's applicants, housemates) add them here.
    """

    subjects: set[str] = field(default_factory=set)


class HubContextProtocol(Protocol):
    request_id: str
    principal: Principal
    loaders: LoaderRegistry
    directory: ResidentDirectory
    idempotency: IdempotencyStore
    records: HubRecords
    audit: AuditTrail
    audit_log: AuditLog
    partial_errors: list[GraphQLError]


HubInfo = Info[HubContextProtocol, None]
