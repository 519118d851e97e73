"""Readers: one card ``LH{n:06d}`` per card-holding resident, with a deterministic ID number."""

from __future__ import annotations

import random
from datetime import date, timedelta

from mocks.common.people import RESIDENTS, library_card
from mocks.library.catalogue import LIBRARIES, LIBRARY_WEIGHTS, person_name
from mocks.library.records import Reader

LUOHU_AREA_CODE = "440303"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"

SUSPENDED_READERS = ("LH000006",)
EXPIRED_READERS = ("LH000007",)
FINED_READERS = {"LH000004": 150}


def id_number(n: int) -> str:
    """Resident *n*'s 18-digit ID number; a pure function of *n* so the hub can derive it too.

    Luohu area code, a birth date between 1950 and 2004 (distinct for every n ≤ 20,000, since
    7919 is prime to 20,000), a sequence number and the GB 11643 check character.
    """
    born = date(1950, 1, 1) + timedelta(days=n * 7919 % 20000)
    body = f"{LUOHU_AREA_CODE}{born:%Y%m%d}{n * 389 % 1000:03d}"
    return body + _CHECK[sum(int(d) * k for d, k in zip(body, _WEIGHTS, strict=True)) % 11]


def _rdtype(rng: random.Random, certify: str) -> str:
    if int(certify[6:10]) < 1961:
        return "老年读者"
    return "教师读者" if rng.random() < 0.05 else "普通读者"


def _status(rng: random.Random, rdid: str, n: int) -> str:
    if rdid in SUSPENDED_READERS:
        return "SUSPENDED"
    if rdid in EXPIRED_READERS:
        return "EXPIRED"
    if n <= 10:
        return "VALID"
    roll = rng.random()
    return "SUSPENDED" if roll < 0.015 else "EXPIRED" if roll < 0.035 else "VALID"


def _fine(rng: random.Random, rdid: str, n: int) -> int:
    if rdid in FINED_READERS or n <= 10:
        return FINED_READERS.get(rdid, 0)
    return rng.choice((30, 60, 90, 150, 300, 1000)) if rng.random() < 0.05 else 0


def build_readers(rng: random.Random) -> list[Reader]:
    """A reader for every resident with a library card (people.library_card)."""
    readers = []
    for n in range(1, RESIDENTS + 1):
        rdid = library_card(n)
        if rdid is None:
            continue
        certify = id_number(n)
        readers.append(
            Reader(
                rdid=rdid,
                rdname=person_name(rng),
                rdcertify=certify,
                rdtype=_rdtype(rng, certify),
                rdlib=rng.choices(LIBRARIES, LIBRARY_WEIGHTS)[0],
                status=_status(rng, rdid, n),
                fine_fen=_fine(rng, rdid, n),
            )
        )
    return readers
