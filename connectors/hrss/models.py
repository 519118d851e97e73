"""人社 (human resources and social security) records as the hub knows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class InsuranceStatus(Enum):
    PAYING = "正常参保"
    SUSPENDED = "暂停缴费"
    ENDED = "终止参保"
    RETIRED = "退休"


@dataclass(frozen=True)
class Insurance:
    """The social-insurance record: since when, where, how many months paid in Shenzhen."""

    id_number: str
    name: str
    insured_since: date
    unit_name: str | None
    months: int
    status: InsuranceStatus


@dataclass(frozen=True)
class Retirement:
    id_number: str
    retired: bool
    retire_date: date | None
    pension_fen: int | None
