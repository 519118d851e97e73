"""Bank-window records in one model for both banks (the dialects are mapped in the connector)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum


class Bank(Enum):
    ICBC = "icbc"
    CCB = "ccb"


class AppointmentStatus(Enum):
    BOOKED = "BOOKED"
    SERVED = "SERVED"
    CANCELLED = "CANCELLED"
    NO_SHOW = "NO_SHOW"


@dataclass(frozen=True)
class Branch:
    """A branch with a government-service window."""

    bank: Bank
    id: str
    name: str
    address: str
    district: str
    longitude: float
    latitude: float
    hours: str
    item_codes: tuple[str, ...]


@dataclass(frozen=True)
class Queue:
    bank: Bank
    branch_id: str
    waiting: int
    estimated_wait_minutes: int
    updated_at: datetime


@dataclass(frozen=True)
class GovItem:
    """A government service item a bank window handles (codes are shared by both banks)."""

    code: str
    name: str
    department: str
    materials: tuple[str, ...]


@dataclass(frozen=True)
class Appointment:
    bank: Bank
    number: str
    branch_id: str
    item_code: str
    date: date
    slot: str
    status: AppointmentStatus
