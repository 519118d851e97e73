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
"""

from __future__ import annotations

from datetime import date

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
