"""Deterministic dev data for the hub's own tables, consistent with the mocks' seed.

The hub and the mocks share no code, only these id rules (the mocks' copy is
``mocks/common/people.py``; ``tests/test_seed_consistency.py`` checks them over HTTP):

- residents ``R000001`` … ``R001000``; residents *2k-1* and *2k* form household ``H{k:04d}``,
  which lives in community ``C{(k-1) % 40 + 1:03d}`` and has ``k % 4`` children with
  youth-center member numbers ``Y{k:04d}{i}`` (name and birth date by ``child_name`` and
  ``child_birth_date``), for whom both adults act;
- resident *n* holds library card ``LH{n:06d}`` unless *n* is a multiple of 5;
- resident *n* is lock-cloud user ``700000 + n``;
- resident *n* was born on ``birth_date(n)`` with ID number ``id_number(n)`` (the library's
  reader records carry the same number).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlmodel import Session

from hub.store.models import AccountLink, Community, Household, HouseholdChild, Resident

RESIDENTS = 1000
COMMUNITIES = 40
SEED = 20261127

# The ten sub-districts (街道) of Luohu and four communities of each.
STREETS: dict[str, tuple[str, ...]] = {
    "桂园街道": ("松园", "鹿丹", "老围", "人民桥"),
    "黄贝街道": ("怡景", "新秀", "凤凰", "黄贝岭"),
    "东门街道": ("湖贝", "立新", "城东", "东门"),
    "翠竹街道": ("翠达", "木头龙", "水贝", "翠竹"),
    "南湖街道": ("向西", "东站", "渔邨", "嘉北"),
    "笋岗街道": ("笋西", "湖景", "田心", "洪湖"),
    "东湖街道": ("大望", "梧桐山", "布心", "东湖"),
    "莲塘街道": ("仙湖", "莲塘", "畔山", "坳下"),
    "东晓街道": ("草埔西", "兰花", "独树", "东晓"),
    "清水河街道": ("玉龙", "草埔东", "清水河", "坭岗"),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许邓冯韩曹曾彭萧蔡潘田董袁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建文辉玲红志宇浩然欣怡子轩梓涵俊杰诗琪"


def community_id(n: int) -> str:
    return f"C{n:03d}"


def community_of_resident(n: int) -> str:
    return community_id((household_of_resident(n) - 1) % COMMUNITIES + 1)


def household_of_resident(n: int) -> int:
    return (n + 1) // 2


def children_member_nos(household: int) -> list[str]:
    return [f"Y{household:04d}{i}" for i in range(1, household % 4 + 1)]


CHILD_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
CHILD_GIVEN = (
    "子轩", "梓涵", "一诺", "欣怡", "浩然", "雨桐", "宇航", "诗涵",
    "俊熙", "若汐", "思远", "语嫣", "沐阳", "可馨", "皓轩", "安琪",
)  # fmt: skip


def child_name(household: int, i: int) -> str:
    return CHILD_SURNAMES[household % 20] + CHILD_GIVEN[(household * 3 + i) % 16]


def child_birth_date(household: int, i: int) -> date:
    year = 2013 + 2 * i + ((household - 3) * 5 + 4) % 7 - 4
    return date(year, 1 + (household + 4 * i) % 10, 1 + (household * 7 + i) % 28)


LUOHU_AREA_CODE = "440303"
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def birth_date(n: int) -> date:
    return date(1950, 1, 1) + timedelta(days=n * 7919 % 20000)


def id_number(n: int) -> str:
    """Resident *n*'s 18-digit ID number (GB 11643 check character), as the library has it."""
    body = f"{LUOHU_AREA_CODE}{birth_date(n):%Y%m%d}{n * 389 % 1000:03d}"
    return body + _CHECK[sum(int(d) * k for d, k in zip(body, _WEIGHTS, strict=True)) % 11]


def library_card(n: int) -> str | None:
    return None if n % 5 == 0 else f"LH{n:06d}"


def lock_uid(n: int) -> int:
    return 700000 + n


def rows(seed: int = SEED) -> dict[type[Any], list[dict[str, Any]]]:
    """Every row of the dev data, as plain dictionaries per table."""
    rng = random.Random(seed)
    communities = []
    for index, (street, names) in enumerate(STREETS.items()):
        for offset, name in enumerate(names):
            n = index * 4 + offset + 1
            communities.append(
                {
                    "id": community_id(n),
                    "name": f"{name}社区",
                    "street": street,
                    "longitude": round(114.10 + rng.random() * 0.10, 6),
                    "latitude": round(22.53 + rng.random() * 0.07, 6),
                }
            )
    households, residents, children, links = [], [], [], []
    for n in range(1, RESIDENTS + 1):
        k = household_of_resident(n)
        if n % 2 == 1:
            households.append({"id": f"H{k:04d}", "community_id": community_of_resident(n)})
        name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
        residents.append(
            {
                "id": f"R{n:06d}",
                "name": name,
                "birth_date": birth_date(n),
                "id_number": id_number(n),
                "household_id": f"H{k:04d}",
                "community_id": community_of_resident(n),
            }
        )
        account = {"resident_id": f"R{n:06d}"}
        if card := library_card(n):
            links.append({**account, "department": "library", "kind": "card", "account_id": card})
        links.append(
            {**account, "department": "locks", "kind": "uid", "account_id": str(lock_uid(n))}
        )
        if n % 2 == 1:
            for i, member_no in enumerate(children_member_nos(k), start=1):
                children.append(
                    {
                        "id": member_no,
                        "household_id": f"H{k:04d}",
                        "name": child_name(k, i),
                        "birth_date": child_birth_date(k, i),
                    }
                )
    return {
        Community: communities,
        Household: households,
        Resident: residents,
        HouseholdChild: children,
        AccountLink: links,
    }


def seed_database(engine: Engine, seed: int = SEED) -> bool:
    """Insert the dev data unless there already is some; ``True`` when it inserted."""
    with Session(engine) as session:
        if session.execute(select(func.count()).select_from(Community)).scalar_one():
            return False
        for table, table_rows in rows(seed).items():
            session.execute(insert(table), table_rows)
        session.commit()
    return True
