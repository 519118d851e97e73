"""一网通办: the government-service catalogue, read from the hub's own copy of it.

- ``types``: the vocabulary (life stages, groups, item types, channels, visits) and small types;
- ``licenses``: the materials the hub holds as e-licences, in one table;
- ``items``: one item, everything a resident needs before going;
- ``places``: where an item can be done (hall, centres, kiosks, bank windows), nearest first;
- ``scenarios``: scenario guides, merged materials and the one form (pre-filled under ``me``);
- ``browse``: the public root field ``services``;
- ``me``: ``me { services }``, recommendations by the rules of one table.
"""

from schema.services.browse import ServicesQuery
from schema.services.me import MyServices

__all__ = ["MyServices", "ServicesQuery"]
