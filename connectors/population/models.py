"""The population registry's records as the hub knows them (frozen, upstream-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum


class Sex(Enum):
    MALE = "male"
    FEMALE = "female"


@dataclass(frozen=True)
class Person:
    """One person of the registry (户籍): where the hukou is, since when, and whether alive."""

    id_number: str
    name: str
    birth_date: date
    sex: Sex
    hukou_district: str
    """Administrative division code of the registered residence (``440303`` = Luohu)."""
    hukou_since: date
    hukou_type: str
    alive: bool
    household_id: str


@dataclass(frozen=True)
class HouseholdMember:
    id_number: str
    name: str
    relation: str
    """As the registry writes it (户主, 配偶, 子, 女, 父亲, 母亲 …)."""
    birth_date: date
    alive: bool


@dataclass(frozen=True)
class Household:
    household_id: str
    members: tuple[HouseholdMember, ...]
