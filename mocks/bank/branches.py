"""Each bank's outlets in 罗湖区, their hours, the items they handle and their live queues.

ICBC has 10 outlets, all with a government window, numbered ``4000101`` … ``4000110``. CCB has
13, ``44200001`` … ``44200013``: 10 with a government window and three without (``44200004``,
``44200009``, ``44200013``, ``zwzc: "N"``, handling no item) that its ``wd.list`` returns too.
The first outlet of each bank opens ``09:00-17:00``; every government outlet opens by 09:30 and
closes no earlier than 16:30. The anchor items (``SB-0001``, ``GJJ-0003``, ``SC-0102``) are
handled at every government outlet of both banks; other items at about 60% of a bank's outlets,
each of the bank's items at one outlet at least.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mocks.bank.clock import stamp

DISTRICT = "罗湖区"
ANCHOR_ITEMS = ("SB-0001", "GJJ-0003", "SC-0102")
HOURS = ("09:00-17:00", "08:30-17:30", "09:00-16:30", "09:30-17:00")
MAX_WAITING = 30

ICBC_OUTLETS = (
    ("工商银行深圳东门支行", "深圳市罗湖区东门中路2085号"),
    ("工商银行深圳罗湖支行", "深圳市罗湖区深南东路5002号"),
    ("工商银行深圳国贸支行", "深圳市罗湖区人民南路3002号"),
    ("工商银行深圳翠竹支行", "深圳市罗湖区翠竹路2088号"),
    ("工商银行深圳黄贝岭支行", "深圳市罗湖区黄贝路1001号"),
    ("工商银行深圳笋岗支行", "深圳市罗湖区宝安北路3008号"),
    ("工商银行深圳莲塘支行", "深圳市罗湖区罗沙路3016号"),
    ("工商银行深圳清水河支行", "深圳市罗湖区清水河一路112号"),
    ("工商银行深圳桂园支行", "深圳市罗湖区解放路4008号"),
    ("工商银行深圳湖贝支行", "深圳市罗湖区湖贝路1030号"),
)
# (name, address, has a government window)
CCB_OUTLETS = (
    ("建设银行深圳罗湖支行", "深圳市罗湖区深南东路4003号", True),
    ("建设银行深圳东门支行", "深圳市罗湖区东门南路2006号", True),
    ("建设银行深圳人民南支行", "深圳市罗湖区人民南路2028号", True),
    ("建设银行深圳国贸自助银行", "深圳市罗湖区嘉宾路2018号", False),
    ("建设银行深圳翠竹支行", "深圳市罗湖区翠竹北路36号", True),
    ("建设银行深圳布心支行", "深圳市罗湖区布心路3008号", True),
    ("建设银行深圳莲塘支行", "深圳市罗湖区国威路68号", True),
    ("建设银行深圳笋岗支行", "深圳市罗湖区笋岗东路1002号", True),
    ("建设银行深圳水贝珠宝支行", "深圳市罗湖区贝丽北路97号", False),
    ("建设银行深圳黄贝支行", "深圳市罗湖区凤凰路168号", True),
    ("建设银行深圳春风路支行", "深圳市罗湖区春风路3001号", True),
    ("建设银行深圳宝安南路支行", "深圳市罗湖区宝安南路1053号", True),
    ("建设银行深圳银湖自助银行", "深圳市罗湖区银湖路9号", False),
)


@dataclass(frozen=True)
class Queue:
    """The live queue at one outlet at one minute."""

    waiting: int
    est_wait_min: int
    updated_at: str


@dataclass(frozen=True)
class Branch:
    """One outlet; ``slots`` are the half-hour booking slots within its hours."""

    branch_id: str
    name: str
    address: str
    district: str
    longitude: float
    latitude: float
    hours: str
    gov_window: bool
    items: tuple[str, ...]
    item_set: frozenset[str]
    slots: frozenset[str]
    minutes_per_person: int

    def queue(self, seed: int, now: datetime) -> Queue:
        """Deterministic per outlet and minute of the bank's clock."""
        minute = int(now.timestamp() // 60)
        waiting = random.Random(f"{seed}:{self.branch_id}:{minute}").randint(0, MAX_WAITING)
        updated = datetime.fromtimestamp(minute * 60, now.tzinfo)
        return Queue(waiting, waiting * self.minutes_per_person, stamp(updated))


def half_hours(hours: str) -> list[str]:
    """``"09:00-10:00"`` → ``["09:00-09:30", "09:30-10:00"]``."""
    opens, closes = (_minutes(part) for part in hours.split("-"))
    starts = range(opens, closes - 29, 30)
    return [f"{_clock(start)}-{_clock(start + 30)}" for start in starts]


def _minutes(text: str) -> int:
    hour, minute = text.split(":")
    return int(hour) * 60 + int(minute)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def build_branches(bank: str, seed: int, bank_items: Sequence[str]) -> list[Branch]:
    """The outlets of ``bank`` (``"icbc"`` or ``"ccb"``) in id order."""
    rng = random.Random(f"{seed}:{bank}:branches")
    if bank == "icbc":
        outlets = [
            (f"{4000100 + n}", name, address, True)
            for n, (name, address) in enumerate(ICBC_OUTLETS, start=1)
        ]
    else:
        outlets = [
            (f"{44200000 + n}", name, address, gov)
            for n, (name, address, gov) in enumerate(CCB_OUTLETS, start=1)
        ]
    handled = _spread_items(rng, [gov for *_, gov in outlets], bank_items)
    branches = []
    for n, (branch_id, name, address, gov) in enumerate(outlets):
        hours = HOURS[0] if n == 0 else rng.choice(HOURS)
        items = tuple(sorted(handled[n]))
        branches.append(
            Branch(
                branch_id=branch_id,
                name=name,
                address=address,
                district=DISTRICT,
                longitude=round(rng.uniform(114.10, 114.20), 6),
                latitude=round(rng.uniform(22.53, 22.60), 6),
                hours=hours,
                gov_window=gov,
                items=items,
                item_set=frozenset(items),
                slots=frozenset(half_hours(hours)) if gov else frozenset(),
                minutes_per_person=rng.choice((3, 4, 5, 6)),
            )
        )
    return branches


def _spread_items(
    rng: random.Random, gov_windows: Sequence[bool], bank_items: Sequence[str]
) -> list[set[str]]:
    windows = [n for n, gov in enumerate(gov_windows) if gov]
    handled: list[set[str]] = [set() for _ in gov_windows]
    for code in bank_items:
        chosen = windows if code in ANCHOR_ITEMS else [n for n in windows if rng.random() < 0.6]
        for n in chosen or [rng.choice(windows)]:
            handled[n].add(code)
    return handled
