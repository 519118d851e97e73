"""The civil-affairs ledger's records as the hub knows them (frozen, upstream-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class EntitlementStatus(Enum):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    ENDED = "ENDED"


@dataclass(frozen=True)
class Entitlement:
    """A current entitlement on the ledger; ``since`` is the first day of its first month."""

    entitlement_id: str
    allowance_code: str
    since: date
    amount_fen: int
    status: EntitlementStatus


@dataclass(frozen=True)
class AllowanceGrant:
    """An instruction to pay: ``request_id`` makes it safe to send again."""

    allowance_code: str
    id_number: str
    start_month: date
    amount_fen: int
    decision_ref: str
    request_id: str


@dataclass(frozen=True)
class Granted:
    entitlement_id: str
    status: EntitlementStatus


@dataclass(frozen=True)
class CareAssessment:
    """The elderly care assessment: level 0 (none needed) … 4 (full care), and when."""

    level: int
    assessed_on: date
