"""Which materials the hub can stand in for: the e-licences it already holds (电子证照).

The hub keeps every resident's identity (name, ID number, date of birth) and household
(who lives with whom, the children) in its own tables, as the 公安 records it was seeded from
have them. A material that is exactly one of those records need not be brought: the hub can
present it as an e-licence when the resident applies through it. This table is the one place
that says which; a material not in it must be brought as the item says (even when the item
itself accepts it as an e-licence from another department: the hub does not hold that one).

| material   | issued by | the hub's record    |
|------------|-----------|---------------------|
| 居民身份证 | 公安      | the resident's identity |
| 户口簿     | 公安      | the household       |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import strawberry


@strawberry.enum(description="电子证照来源 · The records the hub holds for every resident.")
class HubRecord(Enum):
    IDENTITY = strawberry.enum_value("identity", description="身份信息: name, ID number, birth.")
    HOUSEHOLD = strawberry.enum_value("household", description="户籍: the household's members.")


@dataclass(frozen=True)
class HeldLicense:
    record: HubRecord
    issuer: str


HELD_LICENSES: Mapping[str, HeldLicense] = {
    "居民身份证": HeldLicense(HubRecord.IDENTITY, "公安"),
    "户口簿": HeldLicense(HubRecord.HOUSEHOLD, "公安"),
}
"""Material name → the hub's record that stands in for it as an e-licence."""


def held_license(material_name: str) -> HeldLicense | None:
    """The hub's e-licence for a material of that name, if it holds one."""
    return HELD_LICENSES.get(material_name.strip())


__all__ = ["HELD_LICENSES", "HeldLicense", "HubRecord", "held_license"]
