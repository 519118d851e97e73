"""The service-item catalogue's records, as the hub knows them (frozen, upstream-neutral)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class MaterialKind(Enum):
    """How a material is handed in: the original, a copy, or taken as an e-licence."""

    ORIGINAL = "original"
    COPY = "copy"
    E_LICENSE = "e-license"


class Channel(Enum):
    """Where an item can be handled."""

    HALL = "hall"
    STREET = "street"
    COMMUNITY = "community"
    KIOSK_24H = "kiosk24h"
    BANK = "bank"


class ItemStatus(Enum):
    """Whether an item is in force (``active``) or withdrawn (废止) from the catalogue."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class Material:
    """One material an item asks for; ``from_dept`` issues it when it can be fetched."""

    name: str
    kind: MaterialKind
    count: int
    required: bool
    from_dept: str | None


@dataclass(frozen=True)
class Item:
    """One service item (事项) of the catalogue.

    ``local_code`` is the district's short code; for items handled at bank windows it is the
    code the banks use (``GJJ-0003``), the key that joins an item to the banks' branches.
    """

    impl_code: str
    basic_code: str
    local_code: str
    name: str
    dept_code: str
    dept_name: str
    kind: str
    legal_basis: str
    promise_days: int
    legal_days: int
    visits: int
    online_level: int
    instant: bool
    channels: tuple[Channel, ...]
    fee_fen: int
    materials: tuple[Material, ...]
    conditions: str
    life_stages: tuple[str, ...]
    groups: tuple[str, ...]
    updated_at: datetime
    status: ItemStatus = ItemStatus.ACTIVE


@dataclass(frozen=True)
class ItemPage:
    """One 1-based page of the catalogue and the catalogue's size."""

    total: int
    page: int
    size: int
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Changes:
    """Items changed since a time; ask again from ``until`` to continue (inclusive)."""

    since: datetime
    until: datetime
    items: tuple[Item, ...]


@dataclass(frozen=True)
class ScenarioSummary:
    """A scenario guide (一件事) as listed."""

    id: str
    name: str
    item_count: int


@dataclass(frozen=True)
class ScenarioStep:
    """One item of a scenario, in the order a resident does them."""

    order: int
    impl_code: str
    name: str
    dept_name: str


@dataclass(frozen=True)
class ScenarioMaterial:
    """A material of a scenario, merged across its items, with the items that need it."""

    name: str
    kind: MaterialKind
    from_dept: str | None
    item_codes: tuple[str, ...]


@dataclass(frozen=True)
class FormField:
    """A field of a scenario's merged form, with the items that need it."""

    key: str
    label: str
    item_codes: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    """A scenario guide: ordered items, merged materials, merged form."""

    id: str
    name: str
    description: str
    steps: tuple[ScenarioStep, ...]
    materials: tuple[ScenarioMaterial, ...]
    form: tuple[FormField, ...]


@dataclass(frozen=True)
class PublicService:
    """One of the district's public services, with the link it leads to."""

    id: str
    name: str
    category: str
    category_name: str
    link: str


@dataclass(frozen=True)
class Disclosure:
    """A 政务公开 entry; ``url`` is stable (printed as a QR code)."""

    id: str
    category: str
    category_name: str
    title: str
    url: str
    published_at: datetime
