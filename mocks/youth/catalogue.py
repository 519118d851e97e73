"""The center's deterministic catalogue: 300 courses over two terms and one member per child.

Everything is drawn from the seed and then anchored on *today* in Shanghai, so the same seed
gives the same courses, windows and ages every day while the data stays live. Each course keeps
the ``scenario`` it was generated for (``closed``, ``enrolling``, ``full``, ``drawn``,
``prereg``, ``prereg_soon``, ``first_soon``, ``early``) and its ``slot`` within it; the seed
history uses them, the API never shows them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mocks.common.people import (
    child_birth_date,
    child_name,
    children_member_nos,
    guardian_of_household,
)
from mocks.youth.clock import at

FIRST_COME = "FIRST_COME"
LOTTERY = "LOTTERY"

# (scenario, 0 = current term / 1 = next term, how many)
SCENARIOS: tuple[tuple[str, int, int], ...] = (
    ("closed", 0, 55),
    ("enrolling", 0, 45),
    ("full", 0, 20),
    ("drawn", 0, 30),
    ("prereg", 1, 70),
    ("prereg_soon", 1, 20),
    ("first_soon", 1, 30),
    ("early", 1, 30),
)
LOTTERY_SCENARIOS = frozenset({"drawn", "prereg", "prereg_soon"})

SUBJECTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "文艺": (
        ("少儿中国舞", 4, 10),
        ("拉丁舞", 5, 12),
        ("街舞", 7, 14),
        ("少儿主持与朗诵", 5, 12),
        ("儿童戏剧表演", 6, 12),
        ("童声合唱", 6, 13),
    ),
    "书画": (
        ("少儿国画", 5, 12),
        ("软笔书法", 7, 16),
        ("硬笔书法", 6, 12),
        ("素描基础", 9, 16),
        ("儿童创意美术", 4, 8),
        ("水彩画", 8, 14),
    ),
    "科技": (
        ("乐高机器人", 5, 9),
        ("Scratch创意编程", 7, 12),
        ("Python编程", 10, 16),
        ("航模制作", 9, 15),
        ("3D打印创客", 9, 15),
        ("趣味科学实验", 6, 11),
    ),
    "器乐": (
        ("钢琴", 5, 14),
        ("小提琴", 5, 14),
        ("古筝", 6, 14),
        ("二胡", 8, 16),
        ("尤克里里", 7, 14),
        ("琵琶", 7, 14),
    ),
    "体育": (
        ("围棋", 5, 12),
        ("国际象棋", 6, 14),
        ("跆拳道", 5, 12),
        ("少儿武术", 5, 12),
        ("乒乓球", 6, 14),
        ("篮球", 8, 15),
    ),
}
ROOMS = {
    "文艺": "舞蹈排练厅",
    "书画": "书画室",
    "科技": "科创实验室",
    "器乐": "琴房",
    "体育": "综合训练馆",
}
CAMPUSES = ("本部（红岭中路）", "东晓分部", "莲塘分部")
LEVELS = ("启蒙", "初级", "中级", "高级")
SLOTS = (("09:00", "10:30"), ("10:45", "12:15"), ("14:00", "15:30"), ("15:45", "17:15"))
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾萧叶"
GIVEN = "梓涵宇轩浩然欣怡诗雨晨睿博文思嘉俊一可馨泽语若安佳明昊铭琪悦婷瑶航天逸辰沐阳彤"


@dataclass(frozen=True)
class Course:
    """One course section as the center publishes it (plus the generator's scenario)."""

    course_id: str
    name: str
    category: str
    term: str
    age_min: int
    age_max: int
    weekday: int
    start: str
    end: str
    start_date: date
    sessions: int
    venue: str
    teacher: str
    fee_fen: int
    material_fee_fen: int
    capacity: int
    mode: str
    prereg_open: datetime
    prereg_close: datetime
    lottery_at: datetime | None
    scenario: str
    slot: int

    @property
    def starts_at(self) -> datetime:
        """Enrolment closes when the first session's day begins."""
        return at(self.start_date)

    @property
    def amount_fen(self) -> int:
        return self.fee_fen + self.material_fee_fen


@dataclass(frozen=True)
class Member:
    """A child registered with the center, linked to the household's guardian."""

    member_no: str
    name: str
    birth_date: date
    guardian_resident_id: str

    def age_on(self, day: date) -> int:
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def terms_around(today: date) -> tuple[str, str]:
    """The term in progress and the next one: spring runs February–July, autumn the rest."""
    year = today.year
    if today.month >= 8:
        return f"{year}-autumn", f"{year + 1}-spring"
    if today.month >= 2:
        return f"{year}-spring", f"{year}-autumn"
    return f"{year - 1}-autumn", f"{year}-spring"


def _person(rng: random.Random, surname: str) -> str:
    return surname + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def _windows(
    rng: random.Random, scenario: str, mode: str, k: int, today: date
) -> tuple[date, datetime, datetime, datetime | None]:
    """start date, prereg_open, prereg_close, lottery_at for one scenario (before weekday fit).

    A first-come course's registration closes when it starts; a lottery's two days before
    its draw, which is at 10:00.
    """
    day = timedelta(days=1)
    if scenario == "closed":
        start = today - rng.randint(7, 60) * day
        opened = start - rng.randint(20, 40) * day
        if mode == FIRST_COME:
            return start, at(opened, 9), at(start), None
        draw_day = opened + rng.randint(7, 14) * day
    elif mode == FIRST_COME:
        start = {
            "enrolling": today + rng.randint(4, 40) * day,
            "full": today + rng.randint(4, 40) * day,
            "first_soon": today + rng.randint(30, 70) * day,
        }.get(scenario, today + rng.randint(40, 90) * day)
        if scenario == "first_soon":
            opened = today + rng.randint(3, 20) * day
        else:
            opened = today - rng.randint(3, 25) * day
        return start, at(opened, 9), at(start), None
    elif scenario == "drawn":
        # the first ten lotteries ran yesterday, so their winners can still pay
        draw_day = today - (1 if k < 10 else rng.randint(2, 9)) * day
        start = today + rng.randint(10, 35) * day
        opened = draw_day - rng.randint(12, 22) * day
    elif scenario == "prereg":
        draw_day = today + rng.randint(7, 22) * day
        start = draw_day + rng.randint(14, 40) * day
        opened = today - rng.randint(1, 10) * day
    else:  # prereg_soon: registration not open yet
        draw_day = today + rng.randint(25, 45) * day
        start = draw_day + rng.randint(14, 30) * day
        opened = today + rng.randint(2, 20) * day
    return start, at(opened, 9), at(draw_day - 2 * day, 18), at(draw_day, 10)


def build_courses(rng: random.Random, today: date) -> list[Course]:
    """300 courses, ids ``YC{year}{S|A}-{nnnn}`` numbered per term after a shuffle."""
    teachers = [_person(rng, rng.choice(SURNAMES)) for _ in range(48)]
    courses: list[Course] = []
    for term_index, term in enumerate(terms_around(today)):
        slots = [(s, k) for s, t, n in SCENARIOS if t == term_index for k in range(n)]
        rng.shuffle(slots)
        year, season = term.split("-")
        prefix = f"YC{year}{season[0].upper()}"
        for number, (scenario, k) in enumerate(slots, start=1):
            category = rng.choice(list(SUBJECTS))
            subject, low, high = rng.choice(SUBJECTS[category])
            age_min = rng.randint(low, high - 2)
            age_max = min(high, age_min + rng.randint(2, 4))
            level = LEVELS[min(3, (age_min - low) * 4 // max(1, high - low - 1))]
            weekday = rng.choice((6, 6, 7, 7, 3, 5))
            start, end = ("19:00", "20:30") if weekday < 6 else rng.choice(SLOTS)
            lottery = scenario in LOTTERY_SCENARIOS or (scenario == "closed" and rng.random() < 0.4)
            mode = LOTTERY if lottery else FIRST_COME
            start_date, opened, closed, lottery_at = _windows(rng, scenario, mode, k, today)
            start_date += timedelta(days=(weekday - start_date.isoweekday()) % 7)
            sessions = rng.choice((10, 12, 12, 15, 16))
            if mode == FIRST_COME:
                closed = at(start_date)
            floor = rng.randint(1, 5)
            room = f"{ROOMS[category]}{floor}0{rng.randint(1, 8)}"
            courses.append(
                Course(
                    course_id=f"{prefix}-{number:04d}",
                    name=f"{subject}（{level}）",
                    category=category,
                    term=term,
                    age_min=age_min,
                    age_max=age_max,
                    weekday=weekday,
                    start=start,
                    end=end,
                    start_date=start_date,
                    sessions=sessions,
                    venue=f"{rng.choice(CAMPUSES)} {floor}楼{room}",
                    teacher=rng.choice(teachers),
                    fee_fen=sessions * rng.randrange(4000, 9001, 500),
                    material_fee_fen=rng.choice((0, 0, 3000, 5000, 8000, 12000, 20000)),
                    capacity=rng.randint(8, 12) if scenario == "full" else rng.randint(15, 30),
                    mode=mode,
                    prereg_open=opened,
                    prereg_close=closed,
                    lottery_at=lottery_at,
                    scenario=scenario,
                    slot=k,
                )
            )
    return courses


# Household H0003's children carry the fixture applications (seed.py keeps others off them).
PINNED_MEMBERS = frozenset({"Y00031", "Y00032", "Y00033"})


def build_members(rng: random.Random, today: date) -> list[Member]:
    """One member per child of households 1–500, named and born as the hub's roster says."""
    members: list[Member] = []
    for household in range(1, 501):
        for i, member_no in enumerate(children_member_nos(household), start=1):
            members.append(
                Member(
                    member_no,
                    child_name(household, i),
                    child_birth_date(household, i),
                    guardian_of_household(household),
                )
            )
    return members
