"""What resolvers may rely on in ``info.context``, as protocols the hub implements.

The schema depends on these shapes, never on the hub itself: the hub builds the context,
the schema reads it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

from graphql import GraphQLError
from strawberry.types import Info

from connectors.catalogue.models import (
    Channel,
    Disclosure,
    Item,
    PublicService,
    Scenario,
    ScenarioSummary,
)
from schema.links import PublicLinks

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

    async def communities(self) -> tuple[CommunityProfile, ...]:
        """Every community of the district, by id."""
        ...


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
    consents: tuple[str, ...] = ()
    """The consents (ids) the access was made under: a partner acting for a resident."""


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
    consents: set[str] = field(default_factory=set)
    """The consents the request read or acted under (``schema.consents``)."""


class HubContextProtocol(Protocol):
    request_id: str
    principal: Principal
    loaders: LoaderRegistry
    directory: ResidentDirectory
    idempotency: IdempotencyStore
    records: HubRecords
    audit: AuditTrail
    audit_log: AuditLog
    catalogue: ServiceCatalogue
    approvals: Approvals
    offers: ResidentOffers
    public_links: PublicLinks
    """The hub's public pages and their QR codes, under its public base URL."""
    consents: ConsentStore
    filings: ApplicationFiling
    redemption_attempts: RedemptionAttempts
    partial_errors: list[GraphQLError]


HubInfo = Info[HubContextProtocol, None]


# --- the service-item catalogue (一网通办): the hub's own copy, searched in its own index ---


@dataclass(frozen=True)
class ItemFilter:
    """What a browse or search narrows the catalogue to; every given field must hold.

    ``query`` is what a resident typed (Chinese words, pinyin, initials, synonyms): with it the
    answer is ranked by relevance, without it in catalogue order."""

    life_stage: str | None = None
    group: str | None = None
    department: str | None = None
    kind: str | None = None
    instant: bool | None = None
    channel: Channel | None = None
    query: str | None = None


@dataclass(frozen=True)
class Highlight:
    """Where a search matched: ``ranges`` are [start, end) character offsets into ``text``,
    the value of item field ``field`` (``name``, ``conditions`` …)."""

    field: str
    text: str
    ranges: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class ItemHit:
    item: Item
    score: float | None = None
    highlights: tuple[Highlight, ...] = ()


@dataclass(frozen=True)
class ItemResults:
    """One window (``offset``, ``limit``) of the items a filter selects, and how many it selects."""

    total: int
    hits: tuple[ItemHit, ...]


@dataclass(frozen=True)
class CatalogueCounts:
    """How many items carry each life stage, group and department code (names alongside)."""

    life_stages: Mapping[str, int]
    groups: Mapping[str, int]
    departments: Mapping[str, tuple[str, int]]
    """``dept_code`` → (``dept_name``, item count)."""
    total: int


@dataclass(frozen=True)
class CatalogueFreshness:
    """When the copy last agreed with the upstream; ``stale`` once a refresh has failed."""

    synced_at: datetime | None
    stale: bool


class ServiceCatalogue(Protocol):
    """The hub's copy of the province's service-item catalogue, filled and kept fresh by the hub.

    Every read answers from the copy, never by calling the catalogue; when the copy could not be
    refreshed, reads still answer and record a stale serve (``extensions.degraded``)."""

    async def items(self, where: ItemFilter, *, offset: int, limit: int) -> ItemResults: ...

    async def item(self, code: str) -> Item | None:
        """The item of implementation code ``code`` or, failing that, of local code ``code``."""
        ...

    async def items_by_codes(self, codes: Iterable[str]) -> Mapping[str, Item]:
        """Items by implementation or local code, keyed by the code asked; unknown are missing."""
        ...

    async def counts(self) -> CatalogueCounts: ...

    async def scenarios(self) -> tuple[ScenarioSummary, ...]: ...

    async def scenario(self, scenario_id: str) -> Scenario | None: ...

    async def public_services(self) -> tuple[PublicService, ...]: ...

    async def disclosures(self, category: str | None = None) -> tuple[Disclosure, ...]: ...

    def freshness(self) -> CatalogueFreshness: ...


# --- consents (帮办): a resident lets a bank's window act for them, for one item, briefly ---


class ConsentScope(Enum):
    """What a consent lets the partner read (or do, for ``APPLICATION_STATE``)."""

    IDENTITY = "identity"
    HOUSEHOLD_MEMBERS = "household_members"
    MATERIALS = "materials"
    APPLICATION_STATE = "application_state"
    FILE_APPLICATION = "file_application"


@dataclass(frozen=True)
class ConsentRecord:
    """A consent as the hub keeps it (never its code: only a keyed hash of it).

    ``bank`` is the bank whose window system may redeem it; ``branch_id`` the branch the
    resident chose, or ``partner_id`` the one partner system; ``unmasked`` names
    ``schema.masking.Identifier`` values shown in full."""

    id: str
    resident_id: str
    item_code: str
    bank: str
    branch_id: str | None
    partner_id: str | None
    scopes: frozenset[ConsentScope]
    unmasked: frozenset[str]
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    redeemed_at: datetime | None = None
    redeemed_by: str | None = None

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


@dataclass(frozen=True)
class ConsentGrant:
    """What ``ConsentStore.grant`` is asked to keep."""

    resident_id: str
    item_code: str
    bank: str
    branch_id: str | None
    partner_id: str | None
    scopes: frozenset[ConsentScope]
    unmasked: frozenset[str]
    minutes: int


class ConsentStore(Protocol):
    """Consents in the hub's database; every time is the store's own clock (``now``)."""

    def now(self) -> datetime: ...

    async def grant(self, grant: ConsentGrant) -> tuple[ConsentRecord, str]:
        """The new consent and its one-time 6-digit code (never stored: only its keyed hash)."""
        ...

    async def get(self, consent_id: str) -> ConsentRecord | None: ...

    async def revoke(self, resident_id: str, consent_id: str) -> ConsentRecord | None:
        """Revoke the resident's consent (again: unchanged); ``None`` if not theirs."""
        ...

    async def of_resident(self, resident_id: str, *, first: int) -> list[ConsentRecord]:
        """The resident's consents, newest first."""
        ...

    async def redeem(self, code: str, *, partner_id: str, bank: str) -> ConsentRecord | None:
        """Redeem ``code`` once, for this partner of this bank: the consent, or ``None`` when
        no unredeemed, unexpired, unrevoked consent for them has that code."""
        ...


class RedemptionAttempts(Protocol):
    """How many codes a partner may try (shared by the replicas): brute force stops here."""

    async def take(self, partner_id: str) -> bool:
        """Take one attempt; ``False`` once the partner has used them up."""
        ...


@dataclass(frozen=True)
class FiledApplication:
    """An application filed for a resident by a partner under a consent.

    ``state``: RECEIVED (an ordinary item, recorded for the department), AWAITING_INSTANT (a
    秒批 item whose decision is not in yet: its departments are being asked, or the filing
    was interrupted and the next filing under the consent completes it), the decision's
    outcome (APPROVED, REJECTED, NEEDS_REVIEW, the newest for the item since the filing: an
    operator's review or a re-check changes it), or REFUSED (``refusal`` says why, e.g.
    ALREADY_ENTITLED)."""

    id: str
    resident_id: str
    item_code: str
    partner_id: str
    consent_id: str
    state: str
    filed_at: datetime
    decision: Decision | None = None
    refusal: tuple[str, str] | None = None
    """(code, message fit to show) when the approval service refused before deciding."""


class ApplicationFiling(Protocol):
    """Files item ``item_code``'s application for resident R on behalf of partner P under
    consent C (秒批 for instant items); the consent is checked before this is called."""

    async def file(
        self,
        *,
        resident_id: str,
        item_code: str,
        partner_id: str,
        consent_id: str,
        rule_code: str | None,
        answers: Mapping[str, str],
    ) -> FiledApplication:
        """File once per consent: a repeat answers the first filing. ``rule_code``: the 秒批
        item that decides it (``Approvals.rule_code``), ``None`` for an ordinary item; the
        caller has checked that ``answers`` has what it asks (``Approvals.required_answers``)."""
        ...

    async def filed(self, resident_id: str, item_code: str) -> list[FiledApplication]:
        """The resident's applications for the item, newest first."""
        ...


# --- 秒批: instant approval decisions (the hub's approval service, ``hub.approvals``) ---


@dataclass(frozen=True)
class Fact:
    """One input of a decision: which fact, from which department, when, and its value."""

    department: str
    fact: str
    fetched_at: datetime
    value: Any


@dataclass(frozen=True)
class Reason:
    code: str
    message: str
    """Fit to show the resident (Chinese)."""


@dataclass(frozen=True)
class Decision:
    """A recorded decision: outcome APPROVED, REJECTED or NEEDS_REVIEW, and on what."""

    decision_id: str
    resident_id: str
    subject: str
    item: str
    impl_code: str
    rule_version: str
    parameter_version: str
    day: date
    evidence: tuple[Fact, ...]
    outcome: str
    reasons: tuple[Reason, ...]
    amount_fen: int | None
    at: datetime | None = None
    seq: int | None = None


@dataclass(frozen=True)
class ApplicationResult:
    """What an application came to: a decision, or a refusal before any (``refusal``:
    (code, message, field)); ``next_step`` and ``first_month`` when approved."""

    decision: Decision | None
    refusal: tuple[str, str, str | None] | None = None
    next_step: str | None = None
    first_month: date | None = None


class Approvals(Protocol):
    """The approval service (秒批) as the schema sees it."""

    async def apply(
        self,
        resident: ResidentProfile,
        item_code: str,
        answers: Mapping[str, str],
        for_member: str | None = None,
    ) -> ApplicationResult: ...

    def rule_code(self, item_code: str, name: str | None = None) -> str | None:
        """The 秒批 item the service decides for a catalogue item (its implementation code,
        or its name) or a hub item code; ``None`` when it decides none."""
        ...

    def required_answers(self, rule_code: str) -> tuple[str, ...]:
        """The answers the 秒批 item asks the applicant for."""
        ...

    async def decisions_of(self, resident_id: str) -> list[Decision]:
        """The resident's decisions (theirs and their household's they applied for), newest
        first."""
        ...

    async def decision(self, decision_id: str) -> Decision | None: ...


# --- 主动推送: proactive offers (``hub.offers``) ---


@dataclass(frozen=True)
class OfferView:
    """An offer made to a resident, as the app shows it."""

    id: str
    item_code: str
    item_name: str
    reason: str
    """UPCOMING (eligible from ``eligible_from``) or NOW."""
    eligible_from: date
    expires_at: datetime
    state: str
    """OFFERED, ACCEPTED, EXPIRED or REFUSED."""
    member_name: str | None = None
    """Whose it is when it is a household member's (one without an account): their name."""
    decision_id: str | None = None
    """Its application's decision once filed: after a review, the review's outcome."""


@dataclass(frozen=True)
class OfferAcceptance:
    """What accepting came to: the offer, its decision once filed (``None`` while an UPCOMING
    offer waits for its day), or a refusal (code, message, field)."""

    offer: OfferView | None
    decision: Decision | None = None
    refusal: tuple[str, str, str | None] | None = None
    filed_on: date | None = None
    """When an accepted UPCOMING offer will be filed."""


class ResidentOffers(Protocol):
    """The resident's side of the offers: see them, accept one, choose channels."""

    async def offers_of(self, resident: ResidentProfile) -> list[OfferView]: ...

    async def accept(self, resident: ResidentProfile, offer_id: str) -> OfferAcceptance: ...

    async def set_channel(
        self, resident: ResidentProfile, channel: str, enabled: bool
    ) -> frozenset[str]:
        """Opt in or out of ``channel`` (sms, wechat, app); the channels now opted out."""
        ...

    def subscribe(self, resident: ResidentProfile) -> AsyncIterator[OfferView]:
        """The offers made to ``resident`` — and to the members of their household who have
        no account of their own — from now on, as they are made."""
        ...

    async def link_wechat(
        self, resident: ResidentProfile, code: str
    ) -> tuple[str, str, str | None] | None:
        """Link the WeChat user who authorised the service account's page (``code``, from
        WeChat's redirect) to ``resident``, so that WeChat offers reach them; ``None`` when
        linked, else the refusal (code, message fit to show, field)."""
        ...
