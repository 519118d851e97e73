"""Lock-cloud records as the hub understands them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class KeyStatus(Enum):
    NORMAL = 110401
    PENDING = 110402
    FROZEN = 110405
    DELETED = 110408


class LockKind(Enum):
    GATE = "GATE"
    PARKING = "PARKING"
    UNIT_DOOR = "UNIT_DOOR"


@dataclass(frozen=True)
class LockKey:
    """A lock-cloud key: ``valid_from``/``valid_to`` are ``None`` for a permanent key."""

    key_id: int
    lock_id: int
    lock_alias: str
    status: KeyStatus
    valid_from: datetime | None
    valid_to: datetime | None
    remote_enabled: bool
    key_right: int

    def valid_at(self, moment: datetime) -> bool:
        if self.valid_from is not None and moment < self.valid_from:
            return False
        return self.valid_to is None or moment <= self.valid_to


@dataclass(frozen=True)
class Lock:
    id: int
    alias: str
    mac: str
    battery: int
    has_gateway: bool
    community_id: str | None
    kind: LockKind


@dataclass(frozen=True)
class Gateway:
    id: int
    online: bool
    rssi: int
