"""Credential verification (学历认证) as the hub knows it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class DegreeLevel(Enum):
    ASSOCIATE = "大专"
    BACHELOR = "本科"
    MASTER = "硕士"
    DOCTOR = "博士"


@dataclass(frozen=True)
class Credential:
    """A verified degree certificate."""

    cert_no: str
    school: str
    degree: DegreeLevel
    major: str
    graduation_date: date
    full_time: bool


@dataclass(frozen=True)
class Verification:
    """``credential`` when the certificate exists under that name; else not valid, no more
    (the service does not say whether the number or the name was wrong)."""

    cert_no: str
    valid: bool
    credential: Credential | None
