"""The hub's own tables: residents, where they live, and which department accounts are theirs.

Department data stays in the departments; the hub keeps only identities and links.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


class Community(SQLModel, table=True):
    """A residential community (社区) of the district."""

    __tablename__ = "community"

    id: str = Field(primary_key=True, max_length=8)
    name: str = Field(max_length=64)
    street: str = Field(max_length=32, index=True)
    longitude: float
    latitude: float


class Household(SQLModel, table=True):
    """People who live together; a resident acts for their household's children."""

    __tablename__ = "household"

    id: str = Field(primary_key=True, max_length=8)
    community_id: str = Field(foreign_key="community.id", index=True)


class Resident(SQLModel, table=True):
    """A person known to the i罗湖 identity service (``R`` + 6 digits)."""

    __tablename__ = "resident"

    id: str = Field(primary_key=True, max_length=8)
    name: str = Field(max_length=32)
    birth_date: date
    id_number: str = Field(max_length=18, unique=True)
    household_id: str = Field(foreign_key="household.id", index=True)
    community_id: str = Field(foreign_key="community.id", index=True)


class HouseholdChild(SQLModel, table=True):
    """A child registered with a household (no i罗湖 account of their own).

    The household's residents act for the child; ``id`` is the child's youth-center member
    number, the one department account a child has.
    """

    __tablename__ = "household_child"

    id: str = Field(primary_key=True, max_length=12)
    household_id: str = Field(foreign_key="household.id", index=True)
    name: str = Field(max_length=32)
    birth_date: date


class AccountLink(SQLModel, table=True):
    """A department account that belongs to (or is managed by) a resident.

    ``kind`` says what the account is: ``card`` (library), ``uid`` (lock cloud), ``member``
    (a youth-center membership of their own). Children's accounts hang off the household.
    """

    __tablename__ = "account_link"
    __table_args__ = (UniqueConstraint("department", "kind", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    department: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    account_id: str = Field(max_length=64)


class IdempotencyRecord(SQLModel, table=True):
    """The first outcome of a mutation, per caller and idempotency key.

    ``fingerprint`` hashes the operation, its arguments and the caller: the same key with
    another request is refused. ``response`` is empty while the first attempt is running.
    """

    __tablename__ = "idempotency_record"

    scope: str = Field(primary_key=True, max_length=64)
    key: str = Field(primary_key=True, max_length=128)
    fingerprint: str = Field(max_length=64)
    response: str | None = None
    created_at: datetime
    updated_at: datetime


class WindowAppointment(SQLModel, table=True):
    """Which resident booked which bank-window appointment (the bank sees only a reference)."""

    __tablename__ = "window_appointment"

    bank: str = Field(primary_key=True, max_length=8)
    number: str = Field(primary_key=True, max_length=40)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    created_at: datetime


class DoorAttempt(SQLModel, table=True):
    """Every openDoor attempt, allowed or refused: who, which lock, when, what happened."""

    __tablename__ = "door_attempt"

    id: int | None = Field(default=None, primary_key=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    lock_id: int = Field(index=True)
    at: datetime = Field(index=True)
    outcome: str = Field(max_length=32)


class PersistedDocument(SQLModel, table=True):
    """A GraphQL document known by its SHA-256 (automatic persisted queries)."""

    __tablename__ = "persisted_document"

    sha256: str = Field(primary_key=True, max_length=64)
    body: str
    created_at: datetime


class Partner(SQLModel, table=True):
    """A partner system (a bank's window system) with hub-issued credentials.

    ``mode``: ``ids_only`` (only manifest operations, by id), ``allowlist`` (manifest
    operations by id or in full), ``log_unknown`` (anything, unknown documents logged).
    """

    __tablename__ = "partner"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    client_id: str = Field(max_length=64, unique=True)
    secret_hash: str = Field(max_length=256)
    mode: str = Field(max_length=16)
    bank: str | None = Field(default=None, max_length=8)
    created_at: datetime


class PartnerManifest(SQLModel, table=True):
    """The partner's registered manifest (Apollo persisted-query manifest format)."""

    __tablename__ = "partner_manifest"

    partner_id: str = Field(primary_key=True, foreign_key="partner.id")
    manifest: str
    signed: bool = False
    not_before: datetime | None = None
    not_after: datetime | None = None
    registered_at: datetime


class PartnerOperation(SQLModel, table=True):
    """One operation of a partner's manifest: its id is the SHA-256 of its body."""

    __tablename__ = "partner_operation"

    partner_id: str = Field(primary_key=True, foreign_key="partner.id")
    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    type: str = Field(max_length=16)
    body: str


class AuditRecord(SQLModel, table=True):
    """One operation's access to residents' personal data (``hub.store.audit``): never the data.

    A hash chain: ``hash = sha256(canonical JSON of the other fields + prev_hash)``, and
    ``seq`` counts 1, 2, 3 … with no gaps, so an edited, removed or inserted row shows.
    The lists (``subjects``, ``departments``, ``fields``) are canonical JSON arrays.
    """

    __tablename__ = "audit_record"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(index=True)
    request_id: str = Field(max_length=64)
    principal_kind: str = Field(max_length=16)
    principal: str = Field(max_length=64)
    subjects: str
    operation_name: str | None = Field(default=None, max_length=128)
    document_hash: str = Field(max_length=64)
    departments: str
    fields: str
    outcome: str = Field(max_length=8)
    consents: str | None = None
    """The consent ids (a JSON array) a partner acted under; null, and left out of the hashed
    JSON, when none (so records written before consents existed verify unchanged)."""
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditSubject(SQLModel, table=True):
    """Index of audit records by subject resident, for ``me.dataAccessLog``.

    No foreign key: the chain, not this index, is the evidence, and it must stay checkable
    after a record was tampered with.
    """

    __tablename__ = "audit_subject"

    resident_id: str = Field(primary_key=True, max_length=16)
    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})


class AuditChainHead(SQLModel, table=True):
    """The chain's last ``seq`` and ``hash``: the row appends lock, and what catches a
    removed last record."""

    __tablename__ = "audit_chain_head"

    chain: str = Field(primary_key=True, max_length=16)
    seq: int
    hash: str = Field(max_length=64)


class Consent(SQLModel, table=True):
    """A resident's consent that a bank's window acts for them on one item, briefly (帮办).

    ``code_hash`` is HMAC-SHA-256 of the 6-digit code under the hub's key: the code itself is
    never stored. ``redeemed_by`` is set once (single redemption) by a conditional update.
    ``scopes`` and ``unmasked`` are JSON arrays."""

    __tablename__ = "consent"

    id: str = Field(primary_key=True, max_length=24)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    item_code: str = Field(max_length=64)
    bank: str = Field(max_length=8)
    branch_id: str | None = Field(default=None, max_length=32)
    partner_id: str | None = Field(default=None, max_length=32)
    scopes: str
    unmasked: str
    code_hash: str = Field(max_length=64, index=True)
    granted_at: datetime
    expires_at: datetime = Field(index=True)
    revoked_at: datetime | None = None
    redeemed_at: datetime | None = None
    redeemed_by: str | None = Field(default=None, max_length=32)


class ConsentFiling(SQLModel, table=True):
    """An application filed under a consent: one per consent (exactly once)."""

    __tablename__ = "consent_filing"

    id: str = Field(primary_key=True, max_length=24)
    consent_id: str = Field(foreign_key="consent.id", unique=True)
    resident_id: str = Field(foreign_key="resident.id", index=True)
    item_code: str = Field(max_length=64)
    partner_id: str = Field(max_length=32)
    state: str = Field(max_length=16)
    filed_at: datetime
    decision_id: str | None = Field(default=None, max_length=40)
    """A 秒批 item's decision (``decision_record.id``), once the approval service answered."""
    refusal: str | None = Field(default=None, max_length=32)
    """Why the approval service refused before deciding (state REFUSED)."""


class DecisionRecord(SQLModel, table=True):
    """One 秒批 decision (``hub.store.decisions``): the item, the rule and parameter versions,
    every input with its department and when it was fetched, the outcome and its reasons.

    A hash chain like the audit log's (chain ``decisions`` in ``audit_chain_head``).
    ``evidence`` and ``reasons`` are canonical JSON arrays; ``subject`` is the ID number the
    decision is about (masked whenever it is shown)."""

    __tablename__ = "decision_record"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    decision_id: str = Field(max_length=40, unique=True)
    at: datetime = Field(index=True)
    resident_id: str = Field(max_length=32, index=True)
    subject: str = Field(max_length=18, index=True)
    item: str = Field(max_length=64)
    impl_code: str = Field(max_length=64)
    rule_version: str = Field(max_length=16)
    parameter_version: str = Field(max_length=16)
    day: date
    evidence: str
    outcome: str = Field(max_length=16)
    reasons: str
    amount_fen: int | None = None
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class ApprovalGrant(SQLModel, table=True):
    """The one entitlement a subject gets per item: the row is claimed before the paying
    department is instructed, so concurrent approvals with different keys pay once."""

    __tablename__ = "approval_grant"

    subject: str = Field(primary_key=True, max_length=18)
    item: str = Field(primary_key=True, max_length=64)
    decision_id: str = Field(max_length=40)
    request_id: str = Field(max_length=64)
    entitlement_id: str | None = Field(default=None, max_length=64)
    first_month: date | None = None
    state: str | None = Field(default=None, max_length=8)
    """``PENDING`` from the claim until the ledger confirmed the instruction, then ``PAID``
    (also for an entitlement the ledger already had); ``None`` on rows of earlier versions."""
    amount_fen: int | None = None
    """The instructed monthly amount: a pending payment is completed with exactly this."""
    claimed_at: datetime | None = None


class ReviewCase(SQLModel, table=True):
    """A NEEDS_REVIEW decision waiting for a re-check or an operator (``hub.store.decisions``);
    ``closed_by`` is the operator, or ``auto-recheck`` when the department came back."""

    __tablename__ = "review_case"

    decision_id: str = Field(primary_key=True, max_length=40)
    resident_id: str = Field(max_length=32, index=True)
    subject: str = Field(max_length=18)
    item: str = Field(max_length=64)
    answers: str
    state: str = Field(max_length=8, index=True)
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=64)
    closing_decision_id: str | None = Field(default=None, max_length=40)


class Offer(SQLModel, table=True):
    """A proactive offer (主动推送, ``hub.offers``): one per item, subject and period — the
    unique key is what makes it exactly once across scans, restarts and replicas.

    ``subject`` is the registry person's ID number; ``resident_id`` the hub resident when the
    person is one. ``state``: OFFERED, ACCEPTED (``decision_id`` once filed), EXPIRED, REFUSED,
    ENTITLED (never sent: the person holds the item's grant already)."""

    __tablename__ = "offer"
    __table_args__ = (UniqueConstraint("item_code", "subject", "period"),)

    id: str = Field(primary_key=True, max_length=32)
    item_code: str = Field(max_length=64)
    subject: str = Field(max_length=18, index=True)
    resident_id: str | None = Field(default=None, max_length=8, index=True)
    household_id: str | None = Field(default=None, max_length=24, index=True)
    """The registry household: for a person without an account, its hub residents see the
    offer in the app and may accept it for them."""
    name: str = Field(max_length=32)
    mobile: str | None = Field(default=None, max_length=16, index=True)
    period: str = Field(max_length=16)
    reason: str = Field(max_length=16)
    eligible_from: date
    expires_at: datetime
    state: str = Field(max_length=16, index=True)
    decision_id: str | None = Field(default=None, max_length=40)
    accepted_via: str | None = Field(default=None, max_length=8)
    """The channel the resident accepted on: the decision goes back on it."""
    outcome_id: str | None = Field(default=None, max_length=40)
    """When ``decision_id`` was NEEDS_REVIEW: the decision that closed its review case (set
    with the ``final`` message)."""
    filing_until: datetime | None = None
    """While a process files the accepted offer's application (a claim that lapses)."""
    created_at: datetime = Field(index=True)


class OfferDelivery(SQLModel, table=True):
    """One message of an offer on one channel (``kind``): the offer itself (``offer``), the
    filing's decision sent back (``decision``), or — when that was NEEDS_REVIEW — the decision
    that closed its review case later (``final``). One of each per offer and channel.

    Claimed by a conditional update (``claimed_until``) so two replicas never send one;
    ``not_before`` defers it (quiet hours, the gateway's limits). Its id is the SMS ``out_id``."""

    __tablename__ = "offer_delivery"
    __table_args__ = (UniqueConstraint("offer_id", "channel", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    offer_id: str = Field(foreign_key="offer.id", index=True)
    channel: str = Field(max_length=8)
    kind: str = Field(max_length=8)
    state: str = Field(max_length=16, index=True)
    not_before: datetime = Field(index=True)
    attempts: int = 0
    claimed_until: datetime | None = None
    biz_id: str | None = Field(default=None, max_length=64, index=True)
    error: str | None = Field(default=None, max_length=128)
    decision_id: str | None = Field(default=None, max_length=40)
    """A ``final`` message's decision: the one that closed the review case the filing's
    NEEDS_REVIEW decision opened (``None``: closed as superseded, the item granted already)."""
    updated_at: datetime


class OfferOptOut(SQLModel, table=True):
    """A subject's refusal of one channel (SMS ``TD``, or ``setOfferChannel`` in the app)."""

    __tablename__ = "offer_opt_out"

    subject: str = Field(primary_key=True, max_length=18)
    channel: str = Field(primary_key=True, max_length=8)
    at: datetime


class OfferCallback(SQLModel, table=True):
    """A gateway callback already handled (``sms:report:<biz_id>:<ok>``, ``sms:up:<id>``):
    a replay or a duplicate finds its key here and changes nothing."""

    __tablename__ = "offer_callback"

    key: str = Field(primary_key=True, max_length=128)
    at: datetime


class OfferScan(SQLModel, table=True):
    """One scan run of a proactive item for a day: its lease (one scanner at a time across
    replicas), the cursor after the last accepted page (a crash resumes from it), progress."""

    __tablename__ = "offer_scan"

    id: str = Field(primary_key=True, max_length=96)
    """``<item>:<day>``: the run of that item for that day."""
    item_code: str = Field(max_length=64, index=True)
    day: date
    lease_holder: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = None
    cursor: str | None = None
    pages: int = 0
    persons: int = 0
    candidates: int = 0
    started_at: datetime
    finished_at: datetime | None = None
