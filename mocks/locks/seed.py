"""The seeded lock cloud: 200 locks in the 40 communities, and every resident's keys.

Same seed, same data; key dates are whole days from today's midnight (Shanghai), so that a
"valid" key is valid on any day the mock is started. Facts tests rely on, whatever the seed:

- Community C001 holds locks 10001–10008: 10001 GATE 东门闸机 (online, gateway online),
  10002 GATE 西门闸机 (its only gateway offline), 10003 PARKING 地下车库道闸 (no gateway),
  10004–10008 UNIT_DOOR 1–5栋单元门 (online, gateway online).
- R000001 (uid 700001) holds 13 keys: 10001 normal, valid today, remote; 10002 permanent
  (gateway offline); 10003 valid (no gateway); 10004 permanent; 10005 frozen; 10006 expired;
  10007 ``remoteEnable`` 2; and on the first GATE of C002…C007 (shared by relatives):
  C002 not valid yet, C003 pending, C004 deleted, C005 normal and valid, C006 permanent on an
  offline lock, C007 valid with ``keyRight`` 1. Only C006's lock is offline; the others are
  online with a gateway online.
- R000002 (uid 700002) holds 10001, 10002, 10003 and the unit door 10008 only, none of
  R000001's unit doors.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from mocks.common import people
from mocks.locks.clock import DAY_MS
from mocks.locks.cloud import (
    DELETED,
    FROZEN,
    GATE,
    NORMAL,
    PARKING,
    PENDING,
    UNIT_DOOR,
    Cloud,
    Gateway,
    Key,
    Lock,
    LockState,
)

FIRST_LOCK_ID = 10001
FIRST_GATEWAY_ID = 60001
FIRST_KEY_ID = 3100001
LOCKS = 200
GATE_ALIASES = ("东门闸机", "西门闸机", "南门闸机", "北门闸机")
PARKING_ALIASES = ("地下车库道闸", "地面停车场道闸")
FIXED_COMMUNITY = "C001"
# (kind, has_gateway, gateway_online, online) of C001's locks 10001–10008, in order
FIXED_LOCKS: tuple[tuple[str, bool, bool, bool], ...] = (
    (GATE, True, True, True),
    (GATE, True, False, True),
    (PARKING, False, False, True),
    *((UNIT_DOOR, True, True, True),) * 5,
)
# The first GATE of these communities carries one of R000001's shared keys; False = offline.
SHARED_GATES: dict[str, bool] = {f"C{n:03d}": n != 6 for n in range(2, 8)}

# cumulative odds of the statuses other than normal
STATUS_ODDS = ((FROZEN, 0.04), (PENDING, 0.07), (DELETED, 0.09))

Window = tuple[int, int]


class _Builder:
    """Draws records from one ``random.Random`` in a fixed order, numbering them as it goes."""

    def __init__(self, seed: int, anchor_ms: int) -> None:
        self.rng = random.Random(seed)
        self.anchor = anchor_ms
        self.cloud = Cloud()
        self.next_lock = FIRST_LOCK_ID
        self.next_gateway = FIRST_GATEWAY_ID
        self.next_key = FIRST_KEY_ID
        self.by_community: dict[str, list[Lock]] = {}

    def days(self, offset: int) -> int:
        return self.anchor + offset * DAY_MS

    def add_lock(
        self,
        community: str,
        kind: str,
        alias: str,
        fixed: tuple[bool, bool, bool] | None = None,
    ) -> Lock:
        """A lock; ``fixed`` = (has_gateway, gateway_online, online), else drawn at random."""
        rng = self.rng
        mac = ":".join(f"{rng.randrange(256):02X}" for _ in range(6))
        battery = rng.randint(5, 100)
        if fixed is None:
            has_gateway, gateway_online = rng.random() >= 0.12, rng.random() >= 0.1
            online = rng.random() >= 0.04
            count = 2 if rng.random() < 0.3 else 1
        else:
            (has_gateway, gateway_online, online), count = fixed, 1
        gateways: list[Gateway] = []
        for index in range(count if has_gateway else 0):
            # with two gateways, a second one offline still leaves a route to the lock
            up = gateway_online and (index == 0 or fixed is not None or rng.random() >= 0.2)
            gateways.append(Gateway(self.next_gateway, up, rng.randint(-88, -42)))
            self.next_gateway += 1
        lock = Lock(self.next_lock, alias, mac, battery, has_gateway, community, kind)
        self.cloud.add_lock(lock, gateways, LockState(online=online))
        self.by_community.setdefault(community, []).append(lock)
        self.next_lock += 1
        return lock

    def add_key(
        self,
        uid: int,
        lock: Lock,
        status: int | None = None,
        window: Window | None = None,
        remote: bool | None = None,
        key_right: int = 0,
    ) -> None:
        """A key; the attributes not given are drawn with the mix the hub has to cope with."""
        rng = self.rng
        if status is None:
            draw = rng.random()
            status = next((s for s, below in STATUS_ODDS if draw < below), NORMAL)
        if window is None:
            window = self.random_window()
        if remote is None:
            remote = rng.random() >= 0.1
            key_right = int(rng.random() < 0.02)
        key = Key(self.next_key, lock.lock_id, uid, status, *window, remote, key_right)
        if self.cloud.add_key(key):
            self.next_key += 1

    def random_window(self) -> Window:
        rng, draw = self.rng, self.rng.random()
        if draw < 0.35:
            return (0, 0)
        if draw < 0.40:
            return (self.days(-rng.randint(400, 900)), self.days(-rng.randint(1, 300)))
        if draw < 0.43:
            start = rng.randint(1, 60)
            return (self.days(start), self.days(start + rng.randint(90, 700)))
        return (self.days(-rng.randint(1, 700)), self.days(rng.randint(30, 1000)))


def build_cloud(seed: int, anchor_ms: int) -> Cloud:
    """The whole cloud for ``seed``, key dates relative to ``anchor_ms`` (today's midnight)."""
    builder = _Builder(seed, anchor_ms)
    _add_locks(builder)
    _add_fixed_keys(builder)
    _add_resident_keys(builder)
    return builder.cloud


def _add_locks(builder: _Builder) -> None:
    rng, communities = builder.rng, people.all_community_ids()
    unit_no = 0
    for kind, has_gateway, gateway_online, online in FIXED_LOCKS:
        unit_no += kind == UNIT_DOOR
        alias = _alias(kind, builder.by_community.get(FIXED_COMMUNITY, []), unit_no)
        builder.add_lock(FIXED_COMMUNITY, kind, alias, (has_gateway, gateway_online, online))
    others = communities[1:]
    # each other community: one GATE and three or four more, 200 locks in all
    extra = [3] * len(others)
    spare = LOCKS - len(FIXED_LOCKS) - 4 * len(others)
    for index in rng.sample(range(len(others)), spare):
        extra[index] += 1
    for community, count in zip(others, extra, strict=True):
        kinds = [GATE]
        if rng.random() < 0.25:
            kinds.append(GATE)
        if rng.random() < 0.5:
            kinds.append(PARKING)
        kinds += [UNIT_DOOR] * (1 + count - len(kinds))
        for position, kind in enumerate(kinds):
            fixed = None
            if position == 0 and community in SHARED_GATES:
                fixed = (True, True, SHARED_GATES[community])
            existing = builder.by_community.get(community, [])
            unit_no = sum(lock.kind == UNIT_DOOR for lock in existing) + 1
            builder.add_lock(community, kind, _alias(kind, existing, unit_no), fixed)


def _alias(kind: str, existing: Sequence[Lock], unit_no: int) -> str:
    same = sum(lock.kind == kind for lock in existing)
    if kind == GATE:
        return GATE_ALIASES[same % len(GATE_ALIASES)]
    if kind == PARKING:
        return PARKING_ALIASES[same % len(PARKING_ALIASES)]
    return f"{unit_no}栋单元门"


def _add_fixed_keys(builder: _Builder) -> None:
    locks, days = builder.cloud.locks, builder.days
    valid, forever = (days(-200), days(365)), (0, 0)
    first, second = people.lock_uid(1), people.lock_uid(2)
    add = builder.add_key
    add(first, locks[10001], NORMAL, valid, True)
    add(first, locks[10002], NORMAL, forever, True)
    add(first, locks[10003], NORMAL, valid, True)
    add(first, locks[10004], NORMAL, forever, True)
    add(first, locks[10005], FROZEN, valid, True)
    add(first, locks[10006], NORMAL, (days(-400), days(-10)), True)
    add(first, locks[10007], NORMAL, valid, False)
    shared = [
        (NORMAL, (days(10), days(375)), 0),
        (PENDING, valid, 0),
        (DELETED, valid, 0),
        (NORMAL, valid, 0),
        (NORMAL, forever, 0),
        (NORMAL, valid, 1),
    ]
    for community, (status, window, right) in zip(SHARED_GATES, shared, strict=True):
        add(first, builder.by_community[community][0], status, window, True, right)
    for lock_id in (10001, 10003, 10008):
        add(second, locks[lock_id], NORMAL, valid, True)
    add(second, locks[10002], NORMAL, forever, True)


def _add_resident_keys(builder: _Builder) -> None:
    """Every resident: their community's gates, mostly a unit door, sometimes the car park."""
    rng = builder.rng
    household_door: dict[int, Lock | None] = {}
    for n in range(3, people.RESIDENTS + 1):
        uid = people.lock_uid(n)
        locks = builder.by_community[people.community_of_resident(n)]
        for gate in (lock for lock in locks if lock.kind == GATE):
            builder.add_key(uid, gate)
        doors = [lock for lock in locks if lock.kind == UNIT_DOOR]
        household = people.household_of_resident(n)
        door = household_door.get(household)
        if household not in household_door or rng.random() < 0.1:
            door = rng.choice(doors) if doors and rng.random() < 0.88 else None
            household_door[household] = door
        if door is not None:
            builder.add_key(uid, door)
        parkings = [lock for lock in locks if lock.kind == PARKING]
        if parkings and rng.random() < 0.3:
            builder.add_key(uid, rng.choice(parkings))
