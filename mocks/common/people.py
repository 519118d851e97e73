"""The id conventions on which the mocks' seed and the hub's own seed agree.

The real department systems and the i罗湖 identity service share nothing but account ids, and
so do the mocks and the hub: each side generates its own data, and both derive the ids with
these rules (the hub's copy is ``hub/store/seed.py``; a test checks they agree over HTTP).

- 1,000 residents ``R000001`` … ``R001000``; 40 communities ``C001`` … ``C040``.
- Residents *2k-1* and *2k* form household ``H{k:04d}`` (500 households); the household
  lives in community ``C{(k - 1) % 40 + 1:03d}``.
- Household *k* has ``k % 4`` children (0–3), youth-center members ``Y{k:04d}{i}`` for i = 1…,
  named and born by ``child_name`` / ``child_birth_date``; the guardian is the household's
  first resident (``R{2k-1:06d}``).
- Every resident whose *n* is not a multiple of 5 holds library card ``LH{n:06d}``.
- Every resident has lock-cloud uid ``700000 + n``.
- Resident *n* is named ``resident_name(n)``, born ``birth_date(n)``, ID number ``id_number(n)``
  (``mocks/common/population.py`` builds the government systems' population on these).
"""

from __future__ import annotations

import random
from datetime import date, timedelta

RESIDENTS = 1000
COMMUNITIES = 40


def resident_id(n: int) -> str:
    return f"R{n:06d}"


def community_id(n: int) -> str:
    return f"C{n:03d}"


def community_of_resident(n: int) -> str:
    return community_id((household_of_resident(n) - 1) % COMMUNITIES + 1)


def household_of_resident(n: int) -> int:
    return (n + 1) // 2


def children_member_nos(household: int) -> list[str]:
    return [f"Y{household:04d}{i}" for i in range(1, household % 4 + 1)]


def guardian_of_household(household: int) -> str:
    return resident_id(2 * household - 1)


def library_card(n: int) -> str | None:
    return None if n % 5 == 0 else f"LH{n:06d}"


def lock_uid(n: int) -> int:
    return 700000 + n


def all_community_ids() -> list[str]:
    return [community_id(n) for n in range(1, COMMUNITIES + 1)]


# Children are registered with their household (the hub's roster) and with the youth center
# (its member records): both sides derive name and birth date from these rules.
CHILD_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
CHILD_GIVEN = (
    "子轩", "梓涵", "一诺", "欣怡", "浩然", "雨桐", "宇航", "诗涵",
    "俊熙", "若汐", "思远", "语嫣", "沐阳", "可馨", "皓轩", "安琪",
)  # fmt: skip


def child_name(household: int, i: int) -> str:
    """Name of child *i* (1-based) of household *household*."""
    return CHILD_SURNAMES[household % 20] + CHILD_GIVEN[(household * 3 + i) % 16]


def child_birth_date(household: int, i: int) -> date:
    """Birth date of child *i*; household 3's children are 11, 9 and 7 in late 2026."""
    year = 2013 + 2 * i + ((household - 3) * 5 + 4) % 7 - 4
    return date(year, 1 + (household + 4 * i) % 10, 1 + (household * 7 + i) % 28)


# Adults: resident *n* was born on ``birth_date(n)`` with ID number ``id_number(n)`` and named
# ``resident_name(n)``, the same rules as the hub's seed (``hub/store/seed.py``) and the
# library's readers. The names replay the hub's seeded draw (its seed, its order).
LUOHU_AREA_CODE = "440303"
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
RESIDENT_NAME_SEED = 20261127
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建文辉玲红志宇浩然欣怡子轩梓涵俊杰诗琪"


def birth_date(n: int) -> date:
    return date(1950, 1, 1) + timedelta(days=n * 7919 % 20000)


def id_check(body: str) -> str:
    """The GB 11643 check character of a 17-digit ID number body."""
    return ID_CHECK[sum(int(d) * k for d, k in zip(body, ID_WEIGHTS, strict=True)) % 11]


def id_number(n: int) -> str:
    """Resident *n*'s 18-digit ID number (n ≤ 1,000: the hub's seeded residents)."""
    body = f"{LUOHU_AREA_CODE}{birth_date(n):%Y%m%d}{n * 389 % 1000:03d}"
    return body + id_check(body)


_NAMES: list[str] = []


def resident_name(n: int) -> str:
    """Resident *n*'s name (1 ≤ n ≤ 1,000), as the hub seeded it."""
    if not _NAMES:
        rng = random.Random(RESIDENT_NAME_SEED)
        for _ in range(COMMUNITIES * 2):  # the hub draws its communities' coordinates first
            rng.random()
        for _ in range(RESIDENTS):
            surname = rng.choice(SURNAMES)
            _NAMES.append(surname + "".join(rng.choices(GIVEN, k=rng.choice((1, 2)))))
    return _NAMES[n - 1]
