"""One bank's deterministic data: its share of the catalogue, its outlets, seeded bookings.

The 340 items are split by the seed alone, identically in both banks' processes: the anchors
``SB-0001``, ``GJJ-0003``, ``SC-0102`` and about 40% of the rest at both banks, about 30% at
ICBC only, the rest at CCB only, so the union is exactly the 340.

Seeded appointments, numbered 1–6 at each bank (ICBC ``ICGA00000001`` …, CCB ``JHYY00000001``
…), dates relative to the bank's today at start-up, at the bank's first three outlets:

====  ========  =========  ===========  ==============  ===========
no.   outlet    item       date         slot            status
====  ========  =========  ===========  ==============  ===========
1     first     SB-0001    today + 1    10:00-10:30     BOOKED
2     second    GJJ-0003   today + 3    14:00-14:30     BOOKED
3     first     SC-0102    today - 1    09:30-10:00     SERVED
4     third     SB-0001    today + 2    11:00-11:30     CANCELLED
5     second    GJJ-0003   today - 2    15:00-15:30     NO_SHOW
6     third     SC-0102    today + 7    16:00-16:30     BOOKED
====  ========  =========  ===========  ==============  ===========
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date, timedelta

from mocks.bank.booking import BOOKED, CANCELLED, NO_SHOW, SERVED, AppointmentBook
from mocks.bank.branches import ANCHOR_ITEMS, Branch, build_branches
from mocks.bank.catalogue import GovItem, build_items

BANKS = ("icbc", "ccb")
APPOINTMENT_PREFIX = {"icbc": "ICGA", "ccb": "JHYY"}
# (outlet index, item, days from today, slot, status)
SEEDED = (
    (0, "SB-0001", 1, "10:00-10:30", BOOKED),
    (1, "GJJ-0003", 3, "14:00-14:30", BOOKED),
    (0, "SC-0102", -1, "09:30-10:00", SERVED),
    (2, "SB-0001", 2, "11:00-11:30", CANCELLED),
    (1, "GJJ-0003", -2, "15:00-15:30", NO_SHOW),
    (2, "SC-0102", 7, "16:00-16:30", BOOKED),
)


@dataclass(frozen=True)
class BankData:
    """What one bank knows: its items in code order, its outlets in id order."""

    items: tuple[GovItem, ...]
    item_by_code: dict[str, GovItem]
    branches: dict[str, Branch]


def split_items(seed: int) -> dict[str, list[GovItem]]:
    """Each bank's share of the catalogue; overlapping, together all 340."""
    rng = random.Random(f"{seed}:item-split")
    shares: dict[str, list[GovItem]] = {bank: [] for bank in BANKS}
    for item in build_items(seed):
        draw = rng.random()
        if item.code in ANCHOR_ITEMS or draw < 0.4:
            banks: tuple[str, ...] = BANKS
        else:
            banks = ("icbc",) if draw < 0.7 else ("ccb",)
        for bank in banks:
            shares[bank].append(item)
    return shares


def build_bank_data(bank: str, seed: int) -> BankData:
    """The items and outlets of ``bank`` (``"icbc"`` or ``"ccb"``)."""
    items = tuple(split_items(seed)[bank])
    branches = build_branches(bank, seed, [item.code for item in items])
    return BankData(
        items=items,
        item_by_code={item.code: item for item in items},
        branches={branch.branch_id: branch for branch in branches},
    )


def seed_appointments(
    book: AppointmentBook, data: BankData, bank: str, seed: int, today: date
) -> None:
    """Add the six seeded appointments of the table above."""
    outlets = [branch.branch_id for branch in data.branches.values() if branch.gov_window]
    for n, (outlet, item, days, slot, status) in enumerate(SEEDED, start=1):
        ref = hashlib.sha256(f"{seed}:{bank}:applicant:{n}".encode()).hexdigest()[:32]
        book.add(
            outlets[outlet], item, today + timedelta(days=days), slot, ref, f"1380000000{n}", status
        )
