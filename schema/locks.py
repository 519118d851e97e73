"""Smart door locks: the resident's keys, and a door that opens only for its keyholder.

The lock cloud checks nothing about residents, so the hub does, before any unlock: the key
must be the resident's (from the hub's link to their lock-cloud uid), normal, valid today and
remote-enabled. Every attempt is recorded; ``openDoor`` is never retried and never cached.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry

from connectors.errors import Refused, UpstreamTimeout
from connectors.locks import LocksConnector, LocksLoaders
from connectors.locks import models as m
from schema.common import (
    IDEMPOTENCY_KEY_HELP,
    UserError,
    current_resident,
    idempotent,
    in_place,
    user_errors,
)
from schema.community import Community, community_of
from schema.context import HubInfo, ResidentProfile

DEADLINE_S = 5.0


@strawberry.enum(description="Community gate, car-park barrier, or building door.")
class LockKind(Enum):
    GATE = "GATE"
    PARKING = "PARKING"
    UNIT_DOOR = "UNIT_DOOR"


@strawberry.enum(description="The state of a key in the lock cloud.")
class KeyStatus(Enum):
    NORMAL = "NORMAL"
    PENDING = "PENDING"
    FROZEN = "FROZEN"


@strawberry.type(description="A smart lock: gate, barrier or door.")
class Lock:
    id: strawberry.ID
    name: str
    kind: LockKind
    battery: int = strawberry.field(description="Battery level, percent.")
    has_gateway: strawberry.Private[bool]
    community_id: strawberry.Private[str | None]

    @strawberry.field(description="The community the lock belongs to.")
    async def community(self, info: HubInfo) -> Community | None:
        if self.community_id is None:
            return None
        found = await info.context.directory.community(self.community_id)
        return community_of(found) if found else None

    @strawberry.field(description="Whether the lock can be reached now (a gateway is online).")
    async def online(self, info: HubInfo) -> bool | None:
        if not self.has_gateway:
            return False
        loader = info.context.loaders.get(LocksLoaders).gateways_by_lock
        return any(g.online for g in await loader.load(int(self.id)))


def lock_of(lock: m.Lock) -> Lock:
    return Lock(
        id=strawberry.ID(str(lock.id)),
        name=lock.alias,
        kind=LockKind(lock.kind.value),
        battery=lock.battery,
        has_gateway=lock.has_gateway,
        community_id=lock.community_id,
    )


@strawberry.type(description="A key the resident holds.")
class Key:
    id: strawberry.ID
    status: KeyStatus
    valid_from: dt.datetime | None = strawberry.field(description="Null for a permanent key.")
    valid_to: dt.datetime | None = strawberry.field(description="Null for a permanent key.")
    can_open_remotely: bool = strawberry.field(
        description="True when openDoor would be allowed now: normal, valid, remote-enabled."
    )
    lock_id: strawberry.Private[int]

    @strawberry.field(description="The lock this key opens.")
    def lock(self, info: HubInfo) -> Lock | None:
        loaders = info.context.loaders.get(LocksLoaders)

        async def load() -> Lock | None:
            found = await loaders.lock_by_id.load(self.lock_id)
            return lock_of(found) if found else None

        return in_place(loaders.connector.fresh_lock(self.lock_id), lock_of, load)


def usable(key: m.LockKey, now: dt.datetime) -> bool:
    return key.status is m.KeyStatus.NORMAL and key.valid_at(now) and key.remote_enabled


def key_of(key: m.LockKey, now: dt.datetime) -> Key:
    return Key(
        id=strawberry.ID(str(key.key_id)),
        status=KeyStatus[key.status.name],
        valid_from=key.valid_from,
        valid_to=key.valid_to,
        can_open_remotely=usable(key, now),
        lock_id=key.lock_id,
    )


async def my_keys(info: HubInfo, resident: ResidentProfile) -> list[Key]:
    uid = resident.accounts.lock_uid
    if uid is None:
        return []
    found = await info.context.loaders.get(LocksLoaders).keys_by_uid.load(uid)
    now = dt.datetime.now(dt.UTC)
    keys = [key_of(k, now) for k in found if k.status is not m.KeyStatus.DELETED]
    locks = info.context.loaders.get(LocksLoaders).lock_by_id
    if not locks.naive:  # naive mode (benchmark baseline): each key's lock is its own call
        # one listByIds for all the keys' locks, instead of one look-up per key
        await locks.load_many([k.lock_id for k in keys])
    return keys


@strawberry.enum(description="What happened at the door.")
class DoorOutcome(Enum):
    OPENED = "OPENED"
    REFUSED = "REFUSED"


@strawberry.input(description="Open a door, gate or barrier the resident holds a key for.")
class OpenDoorInput:
    lock_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="OPENED, or REFUSED with the reason in userErrors.")
class OpenDoorPayload:
    outcome: DoorOutcome
    user_errors: list[UserError]


MESSAGES = {
    "NO_VALID_KEY": "您没有这把锁今天有效的钥匙。",
    "NO_REMOTE_RIGHT": "这把钥匙不支持远程开门。",
    "TOO_MANY_ATTEMPTS": "开门过于频繁，请稍后再试。",
    "TIMED_OUT": "门锁没有及时响应，请确认门是否已开。",
}


def refused(code: str, message: str | None = None) -> dict[str, Any]:
    text = message or MESSAGES.get(code, "开门失败。")
    return {"outcome": "REFUSED", "userErrors": [{"code": code, "message": text, "field": None}]}


async def _attempt(
    locks: LocksConnector, resident: ResidentProfile, lock_id: int, now: dt.datetime
) -> dict[str, Any]:
    uid = resident.accounts.lock_uid
    keys = await locks.keys(uid) if uid else ()
    key = next((k for k in keys if k.lock_id == lock_id), None)
    if key is None or key.status is not m.KeyStatus.NORMAL or not key.valid_at(now):
        return refused("NO_VALID_KEY")
    if not key.remote_enabled:
        return refused("NO_REMOTE_RIGHT")
    try:
        await locks.unlock(lock_id, str(uid), deadline_s=DEADLINE_S)
    except Refused as refusal:
        return refused(refusal.code, refusal.message)
    except UpstreamTimeout:
        # the command may have reached the lock: a final answer, never a retry
        return refused("TIMED_OUT")
    return {"outcome": "OPENED", "userErrors": []}


async def open_door(info: HubInfo, resident: ResidentProfile, lock_id: int) -> dict[str, Any]:
    """One attempt: its slot taken atomically, then the hub's checks and the unlock, then the
    outcome settled on the slot's row (so concurrent attempts cannot all pass the limit)."""
    records, locks = info.context.records, info.context.loaders.get(LocksLoaders).connector
    attempt = await records.reserve_door_attempt(resident.id, lock_id)
    if attempt is None:
        return refused("TOO_MANY_ATTEMPTS")
    outcome: dict[str, Any]
    try:
        outcome = await _attempt(locks, resident, lock_id, dt.datetime.now(dt.UTC))
    except BaseException as error:
        await records.settle_door_attempt(attempt, f"ERROR:{type(error).__name__}")
        raise
    code = outcome["userErrors"][0]["code"] if outcome["userErrors"] else "OPENED"
    await records.settle_door_attempt(attempt, code)
    return outcome


@strawberry.type
class LocksMutation:
    @strawberry.mutation(
        description="远程开门 · "
        "Open a door now. Allowed only with a normal, currently valid, remote-enabled "
        "key. Never retried by the hub. Refusals: NO_VALID_KEY, NO_REMOTE_RIGHT, LOCK_OFFLINE, "
        "GATEWAY_OFFLINE, NO_GATEWAY, LOCK_BUSY, GATEWAY_BUSY, TOO_MANY_ATTEMPTS, TIMED_OUT."
    )
    async def open_door(self, info: HubInfo, input: OpenDoorInput) -> OpenDoorPayload:
        resident = await current_resident(info)
        try:
            lock_id = int(str(input.lock_id))
        except ValueError:
            lock_id = -1
        outcome = await idempotent(
            info, resident, operation="openDoor", key=input.idempotency_key,
            arguments={"lock": str(input.lock_id)},
            perform=lambda _key: open_door(info, resident, lock_id),
        )  # fmt: skip
        return OpenDoorPayload(
            outcome=DoorOutcome(outcome["outcome"]), user_errors=user_errors(outcome)
        )
