"""The population registry's records as the hub knows them (frozen, upstream-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

import numpy as np
import numpy.typing as npt


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
    mobile: str | None = None
    """The mobile number the registry holds, if any."""


@dataclass(frozen=True, eq=False)
class ExportPage:
    """One page of the bulk export as columns (numpy arrays of one length, row *i* across all).

    Strings are fixed-width ``str_`` arrays, dates ``datetime64[D]``, ``alive`` booleans and
    ``sex`` the ``Sex`` values (``male`` / ``female``); ``mobile`` is ``""`` where the registry
    holds none. ``next_cursor`` continues the export after this page; ``None`` after the last.
    """

    id_number: npt.NDArray[np.str_]
    name: npt.NDArray[np.str_]
    birth_date: npt.NDArray[np.datetime64]
    sex: npt.NDArray[np.str_]
    hukou_district: npt.NDArray[np.str_]
    hukou_since: npt.NDArray[np.datetime64]
    alive: npt.NDArray[np.bool_]
    household_id: npt.NDArray[np.str_]
    mobile: npt.NDArray[np.str_]
    next_cursor: str | None

    def __len__(self) -> int:
        return len(self.id_number)


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
