"""The lock cloud's records: locks, their gateways and forced states, and users' keys."""

from __future__ import annotations

from dataclasses import dataclass, field

from mocks.locks.answers import LOCK_NOT_FOUND, CloudError

GATE = "GATE"
PARKING = "PARKING"
UNIT_DOOR = "UNIT_DOOR"

NORMAL = 110401
PENDING = 110402
FROZEN = 110405
DELETED = 110408


@dataclass(frozen=True)
class Lock:
    """One lock (gate, parking barrier or unit door) as ``/v3/lock/detail`` describes it."""

    lock_id: int
    alias: str
    mac: str
    battery: int
    has_gateway: bool
    community_id: str
    kind: str

    def as_json(self) -> dict[str, object]:
        return {
            "lockId": self.lock_id,
            "lockAlias": self.alias,
            "lockMac": self.mac,
            "electricQuantity": self.battery,
            "hasGateway": int(self.has_gateway),
            "communityId": self.community_id,
            "kind": self.kind,
        }


@dataclass
class Gateway:
    """A Wi-Fi gateway in radio range of a lock; the only way a remote unlock reaches it."""

    gateway_id: int
    online: bool
    rssi: int

    def as_json(self) -> dict[str, object]:
        return {"gatewayId": self.gateway_id, "isOnline": int(self.online), "rssi": self.rssi}


@dataclass
class LockState:
    """What the cloud knows of a lock right now; tests force it through the admin surface."""

    online: bool = True
    busy: bool = False
    gateway_busy: bool = False
    fail_with: int | None = None


@dataclass(frozen=True)
class Key:
    """An eKey: ``uid`` may open ``lock_id`` (the cloud stores validity but does not check it)."""

    key_id: int
    lock_id: int
    uid: int
    status: int
    start: int
    end: int
    remote: bool
    key_right: int

    def as_json(self, alias: str) -> dict[str, object]:
        return {
            "keyId": self.key_id,
            "lockId": self.lock_id,
            "lockAlias": alias,
            "keyStatus": self.status,
            "startDate": self.start,
            "endDate": self.end,
            "remoteEnable": 1 if self.remote else 2,
            "keyRight": self.key_right,
        }


@dataclass
class Cloud:
    """Every record, indexed for O(1) lookups by lock id, by uid and by (uid, lock id)."""

    locks: dict[int, Lock] = field(default_factory=dict)
    gateways: dict[int, list[Gateway]] = field(default_factory=dict)
    states: dict[int, LockState] = field(default_factory=dict)
    keys_by_uid: dict[int, list[Key]] = field(default_factory=dict)
    key_index: dict[tuple[int, int], Key] = field(default_factory=dict)

    def add_lock(self, lock: Lock, gateways: list[Gateway], state: LockState) -> None:
        self.locks[lock.lock_id] = lock
        self.gateways[lock.lock_id] = gateways
        self.states[lock.lock_id] = state

    def add_key(self, key: Key) -> bool:
        """Store a key unless the uid already holds one on that lock; ``True`` if stored."""
        if (key.uid, key.lock_id) in self.key_index:
            return False
        self.key_index[key.uid, key.lock_id] = key
        self.keys_by_uid.setdefault(key.uid, []).append(key)
        return True

    def lock(self, lock_id: int) -> Lock:
        """The lock, or ``CloudError(-1003)``."""
        found = self.locks.get(lock_id)
        if found is None:
            raise CloudError(LOCK_NOT_FOUND, f"lockId {lock_id} does not exist")
        return found

    def holds_key(self, uid: int, lock_id: int) -> bool:
        """Whether a key record exists; a deleted key is no record, a frozen one still is."""
        key = self.key_index.get((uid, lock_id))
        return key is not None and key.status != DELETED

    def keys_json(self, uid: int) -> list[dict[str, object]]:
        return [key.as_json(self.locks[key.lock_id].alias) for key in self.keys_by_uid.get(uid, [])]

    def state_json(self, lock_id: int) -> dict[str, object]:
        """The admin view of a lock's state (``gateway_online``: at least one gateway online)."""
        state = self.states[lock_id]
        return {
            "lockId": lock_id,
            "hasGateway": self.locks[lock_id].has_gateway,
            "online": state.online,
            "gateway_online": any(gateway.online for gateway in self.gateways[lock_id]),
            "busy": state.busy,
            "gateway_busy": state.gateway_busy,
            "fail_with": state.fail_with,
        }
