"""The population the government systems share (departments-gov.md, last paragraph).

Derived from a person's index on demand, never stored per person: a ``Population`` of a million
holds a few small lookup tables and nothing per person. Every government mock builds its own
``Population(config)`` and gets the same persons (same seed, size and ``as_of`` day).

- Persons 1 … 1,000 are the hub's seeded residents (``mocks/common/people.py``: same ID
  numbers, names, birth dates and households ``H{(n+1)//2:04d}``); resident 2k-1 is the
  household's head (户主), 2k the spouse (配偶). Households 1 … 500 also hold their children
  (``child_name`` / ``child_birth_date``, ID numbers of area 440303).
- Persons 1,001 … ``size`` (benchmarks: 100,000 or 1,000,000) get an ID number of area 440301
  whose birth date (1920 … 2019) and sequence number encode the index, so an ID number finds
  its person by arithmetic; their households have no children.
- ``CASES``: named persons at the 秒批 rules' boundaries, dated from ``as_of`` (the day the
  mocks were configured, Shanghai; ``MockConfig.as_of``): elderly relatives living in the
  hub's households (turning 70/80/90/100 today or tomorrow, dead, hukou elsewhere or moved in
  last month, care assessment levels 0–4, already entitled), and residents who are graduates
  (one whose degree verifies only under another name), recently moved in or registered
  elsewhere. Every government mock lists them at ``GET /__admin/cases``.
- ``born_on(day)``: everyone born on a day, in a fixed order, made from the indices that the
  birth date encodes (the bulk export pages through birth dates with it, never holding more
  than one day's persons). ``mobile_of``: each person's mobile number, from the ID number.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from mocks.common import people

AREA_EXTENDED = "440301"
EXTENDED_EPOCH = date(1920, 1, 1)
EXTENDED_DAYS = 36525  # 1920-01-01 … 2019-12-31
EXTENDED_STEP = 7919  # prime to EXTENDED_DAYS: consecutive persons get scattered birthdays
EXTENDED_STEP_INVERSE = pow(EXTENDED_STEP, -1, EXTENDED_DAYS)
LUOHU = "440303"
OTHER_SHENZHEN = ("440304", "440305", "440306", "440307")
OUTSIDE_SHENZHEN = ("430102", "360102", "450102", "441502")
SURNAMES = people.SURNAMES
GIVEN = people.GIVEN
DEFAULT_SIZE = 1000


def mix(*values: int) -> int:
    """A 64-bit hash of integers (splitmix64 steps): the per-person dice, no state."""
    x = 0x9E3779B97F4A7C15
    for value in values:
        x = (x ^ (value & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        x = (x ^ (x >> 31)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
        x ^= x >> 29
    return x


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def mobile_of(id_number: str) -> str:
    """The mainland mobile number (11 digits, ``13…``) the registry holds for this ID number.

    A hash of the number's 17 digits, so every mock derives the same one; two persons of a
    million share a number now and then, as family members do in real registries."""
    return f"13{mix(0x30B11E, int(id_number[:17])) % 1_000_000_000:09d}"


@dataclass(frozen=True)
class Person:
    """One registry person, made on demand. ``traits`` carries a case's department facts."""

    id_number: str
    name: str
    birth_date: date
    household: int
    relation: str
    hukou_district: str
    hukou_since: date
    hukou_type: str
    alive: bool
    index: int | None = None
    """The resident number (1 … size) of an adult; ``None`` for children and relatives."""
    case: str | None = None
    traits: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def sex(self) -> str:
        """GB/T 2261 code from the ID number: ``1`` male, ``2`` female."""
        return "1" if int(self.id_number[16]) % 2 else "2"

    @property
    def household_id(self) -> str:
        return f"H{self.household:04d}"

    @property
    def mobile(self) -> str:
        return mobile_of(self.id_number)

    @property
    def resident_id(self) -> str | None:
        return people.resident_id(self.index) if self.index is not None else None

    def dice(self, seed: int, what: int) -> int:
        return mix(seed, int(self.id_number[:17]), what)


def _id(area: str, born: date, seq: int) -> str:
    body = f"{area}{born:%Y%m%d}{seq:03d}"
    return body + people.id_check(body)


def _extended_name(n: int) -> str:
    h = mix(0x5EED, n)
    given = GIVEN[h % len(GIVEN)] + (GIVEN[(h >> 8) % len(GIVEN)] if h >> 16 & 1 else "")
    return SURNAMES[(h >> 20) % len(SURNAMES)] + given


# The boundary cases: (name, household, relation, age in years on as_of + days, facts).
# "born" is as_of shifted by ``days`` and then ``age`` years back: age 70, days +1 is a person
# who turns 70 tomorrow.
_RELATIVES: tuple[tuple[str, int, str, int, int, dict[str, Any]], ...] = (
    ("turns_70_today", 11, "父亲", 70, 0, {}),
    ("turns_70_tomorrow", 12, "母亲", 70, 1, {}),
    ("turns_70_in_two_months", 13, "父亲", 70, 61, {}),
    ("turns_80_today", 14, "母亲", 80, 0, {}),
    ("turns_80_tomorrow", 15, "父亲", 80, 1, {}),
    ("turns_90_today", 16, "祖母", 90, 0, {}),
    ("turns_90_tomorrow", 17, "祖父", 90, 1, {}),
    ("turns_100_today", 18, "祖母", 100, 0, {}),
    ("turns_100_tomorrow", 19, "祖父", 100, 1, {}),
    # never assessed, pinned: left to the dice, the assessment changed with as_of's date
    ("dead_aged_85", 20, "父亲", 85, -40, {"alive": False, "care_level": None}),
    ("elderly_hukou_elsewhere", 21, "母亲", 75, -100, {"hukou_district": "440304"}),
    ("elderly_hukou_moved_last_month", 22, "父亲", 72, -200, {"moved_days_ago": 30}),
    ("elderly_already_entitled", 23, "母亲", 82, -10, {"entitled": "GLJT"}),
    ("care_level_0", 24, "父亲", 76, -50, {"care_level": 0}),
    ("care_level_1", 25, "母亲", 78, -60, {"care_level": 1}),
    ("care_level_2", 26, "父亲", 81, -70, {"care_level": 2}),
    ("care_level_3", 27, "母亲", 84, -80, {"care_level": 3}),
    ("care_level_4", 28, "祖母", 91, -90, {"care_level": 4}),
    ("care_not_assessed", 29, "祖父", 77, -20, {"care_level": None}),
)
_RELATIVE_NAMES = ("郑", "梁", "谢", "宋", "唐", "许", "邓", "冯", "韩", "曹")
_GIVEN_MALE = ("国华", "建国", "德明", "志强", "永福", "福生", "家明")
_GIVEN_FEMALE = ("秀英", "桂兰", "淑珍", "玉兰", "凤英", "美华", "惠芳")
_MALE_RELATIONS = ("父亲", "祖父")

# Residents (hub residents) given a case's facts: (name, age range, facts).
_RESIDENT_CASES: tuple[tuple[str, tuple[int, int], dict[str, Any]], ...] = (
    ("graduate_bachelor", (22, 26), {"degree": ("本科", "10590", "计算机科学与技术", True)}),
    ("graduate_master", (24, 28), {"degree": ("硕士", "10558", "公共管理", True)}),
    ("graduate_doctor", (27, 33), {"degree": ("博士", "10003", "材料科学与工程", True)}),
    ("graduate_college", (21, 25), {"degree": ("大专", "14325", "护理", True)}),
    ("graduate_part_time", (22, 30), {"degree": ("本科", "11078", "会计学", False)}),
    (
        "graduate_other_name",
        (22, 27),
        {"degree": ("本科", "10561", "建筑学", True), "cert_name_given": "晓明"},
    ),
    ("resident_hukou_moved_last_month", (30, 45), {"moved_days_ago": 25}),
    ("resident_hukou_elsewhere", (30, 45), {"hukou_district": "430102"}),
    ("resident_collective_hukou", (25, 40), {"hukou_type": "集体户"}),
)


class Population:
    """Persons 1 … ``size`` plus the children of households 1 … 500 and the cases' relatives."""

    def __init__(self, size: int = DEFAULT_SIZE, *, seed: int, as_of: date) -> None:
        if size < people.RESIDENTS:
            raise ValueError(f"a population of at least {people.RESIDENTS}")
        if size > 1000 + EXTENDED_DAYS * 1000:
            raise ValueError("population too large for the ID number scheme")
        self.size = size
        self.seed = seed
        self.as_of = as_of
        self.households = (size + 1) // 2
        self._residents = {people.id_number(n): n for n in range(1, people.RESIDENTS + 1)}
        self._children: dict[str, tuple[int, int]] = {}
        for k in range(1, people.RESIDENTS // 2 + 1):
            for i in range(1, k % 4 + 1):
                self._children[self._child_id(k, i)] = (k, i)
        self._relatives: dict[str, Person] = {}
        self._relatives_of: dict[int, list[Person]] = {}
        for index, spec in enumerate(_RELATIVES):
            person = self._relative(index, *spec)
            self._relatives[person.id_number] = person
            self._relatives_of.setdefault(person.household, []).append(person)
        self._resident_cases: dict[int, tuple[str, dict[str, Any]]] = {}
        self._pick_resident_cases()
        self._born_by_day: dict[int, tuple[str, ...]] | None = None

    # -- look-ups -------------------------------------------------------------------------

    def person(self, id_number: str) -> Person | None:
        """The person with this ID number, or ``None`` (unknown ids are simply missing)."""
        if len(id_number) != 18:
            return None
        if id_number in self._relatives:
            return self._relatives[id_number]
        if (n := self._residents.get(id_number)) is not None:
            return self.adult(n)
        if (child := self._children.get(id_number)) is not None:
            return self._child(*child)
        n = self._extended_index(id_number)
        return self.adult(n) if n is not None else None

    def adult(self, n: int) -> Person:
        """Person *n* (1 … size)."""
        if not 1 <= n <= self.size:
            raise KeyError(n)
        if n <= people.RESIDENTS:
            id_number, name, born = (
                people.id_number(n),
                people.resident_name(n),
                people.birth_date(n),
            )
        else:
            born, seq = self._extended_birth(n)
            id_number, name = _id(AREA_EXTENDED, born, seq), _extended_name(n)
        k = people.household_of_resident(n)
        person = self._registered(id_number, name, born, k, "户主" if n % 2 else "配偶", n)
        case = self._resident_cases.get(n)
        return self._with_case(person, *case) if case else person

    def household(self, household_id: str) -> list[Person] | None:
        """Members of ``H{k:04d}`` (head, spouse, children, relatives), or ``None``."""
        if not household_id.startswith("H") or not household_id[1:].isdigit():
            return None
        k = int(household_id[1:])
        if not 1 <= k <= self.households or f"H{k:04d}" != household_id:
            return None
        members = [self.adult(n) for n in (2 * k - 1, 2 * k) if n <= self.size]
        if k <= people.RESIDENTS // 2:
            members += [self._child(k, i) for i in range(1, k % 4 + 1)]
        return members + self._relatives_of.get(k, [])

    def born_on(self, day: date) -> list[Person]:
        """Everyone born on ``day``: the residents, children and relatives (by ID number), then
        the persons beyond 1,000 (by index: ``size / EXTENDED_DAYS`` of them a day at most)."""
        found = [self._known(i) for i in self._listed_by_day().get(day.toordinal(), ())]
        days = (day - EXTENDED_EPOCH).days
        if 0 <= days < EXTENDED_DAYS:
            first = people.RESIDENTS + 1 + days * EXTENDED_STEP_INVERSE % EXTENDED_DAYS
            found += [self.adult(n) for n in range(first, self.size + 1, EXTENDED_DAYS)]
        return found

    def cases(self) -> dict[str, Person]:
        """Every named case by name."""
        found = {person.case: person for person in self._relatives.values() if person.case}
        for n, (name, _) in self._resident_cases.items():
            found[name] = self.adult(n)
        return found

    # -- derivation -----------------------------------------------------------------------

    def _known(self, id_number: str) -> Person:
        person = self.person(id_number)
        assert person is not None, id_number
        return person

    def _listed_by_day(self) -> dict[int, tuple[str, ...]]:
        """ID numbers of the residents, children and relatives by birth day (made once, on the
        first export: some 1,800 numbers)."""
        if self._born_by_day is None:
            listed: dict[int, list[str]] = {}
            ids = [*self._residents, *self._children, *self._relatives]
            for id_number in ids:
                born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
                listed.setdefault(born.toordinal(), []).append(id_number)
            self._born_by_day = {day: tuple(sorted(found)) for day, found in listed.items()}
        return self._born_by_day

    def _registered(
        self, id_number: str, name: str, born: date, k: int, relation: str, n: int | None
    ) -> Person:
        h = mix(self.seed, int(id_number[:17]))
        roll = h % 100
        if (n is not None and n <= 10) or roll < 85:
            district = LUOHU
        elif roll < 95:
            district = OTHER_SHENZHEN[h % len(OTHER_SHENZHEN)]
        else:
            district = OUTSIDE_SHENZHEN[h % len(OUTSIDE_SHENZHEN)]
        if (h >> 8) % 3 == 0:  # registered here at birth
            since = born
        else:  # moved in some time after the age of 18
            earliest = years_before(self.as_of, max(age_on(born, self.as_of) - 18, 0))
            since = earliest + timedelta(days=(h >> 12) % max((self.as_of - earliest).days, 1))
        kind = "集体户" if (h >> 40) % 20 == 0 and (n is None or n > 10) else "家庭户"
        return Person(id_number, name, born, k, relation, district, since, kind, True, n)

    def _with_case(self, person: Person, case: str, facts: dict[str, Any]) -> Person:
        changes: dict[str, Any] = {"case": case, "traits": dict(facts)}
        if "hukou_district" in facts:
            changes["hukou_district"] = facts["hukou_district"]
        elif person.hukou_district != LUOHU:
            changes["hukou_district"] = LUOHU
        changes["hukou_type"] = facts.get("hukou_type", "家庭户")
        if "moved_days_ago" in facts:
            changes["hukou_since"] = self.as_of - timedelta(days=facts["moved_days_ago"])
        elif person.hukou_since > years_before(self.as_of, 5):
            changes["hukou_since"] = person.birth_date
        if "alive" in facts:
            changes["alive"] = facts["alive"]
        return replace(person, **changes)

    def _child_id(self, k: int, i: int) -> str:
        return _id(LUOHU, people.child_birth_date(k, i), (k * 4 + i) % 1000)

    def _child(self, k: int, i: int) -> Person:
        id_number = self._child_id(k, i)
        born = people.child_birth_date(k, i)
        relation = "子" if int(id_number[16]) % 2 else "女"
        person = self._registered(id_number, people.child_name(k, i), born, k, relation, None)
        return replace(person, hukou_district=LUOHU, hukou_since=born)

    def _relative(
        self,
        index: int,
        case: str,
        k: int,
        relation: str,
        age: int,
        days: int,
        facts: dict[str, Any],
    ) -> Person:
        born = years_before(self.as_of + timedelta(days=days), age)
        male = relation in _MALE_RELATIONS
        seq = 900 + index * 2 + (1 if male else 0)
        id_number = _id(LUOHU, born, seq)
        while id_number in self._residents or id_number in self._children:
            seq = (seq + 2) % 1000
            id_number = _id(LUOHU, born, seq)
        surname = _RELATIVE_NAMES[index % len(_RELATIVE_NAMES)]
        given = _GIVEN_MALE if male else _GIVEN_FEMALE
        name = surname + given[index % len(given)]
        since = years_before(self.as_of, 40 + index % 7)
        person = Person(id_number, name, born, k, relation, LUOHU, since, "家庭户", True)
        return self._with_case(replace(person, hukou_since=since), case, facts)

    def _pick_resident_cases(self) -> None:
        taken: set[int] = set()
        for case, (youngest, oldest), facts in _RESIDENT_CASES:
            for n in range(11, people.RESIDENTS + 1):
                if n in taken:
                    continue
                if youngest <= age_on(people.birth_date(n), self.as_of) <= oldest:
                    self._resident_cases[n] = (case, facts)
                    taken.add(n)
                    break
            else:  # pragma: no cover - the seeded ages span 22 … 76
                raise ValueError(f"no resident for case {case}")

    def _extended_birth(self, n: int) -> tuple[date, int]:
        j = n - people.RESIDENTS - 1
        return (
            EXTENDED_EPOCH + timedelta(days=j * EXTENDED_STEP % EXTENDED_DAYS),
            j // EXTENDED_DAYS,
        )

    def _extended_index(self, id_number: str) -> int | None:
        if not id_number.startswith(AREA_EXTENDED) or not id_number[6:17].isdigit():
            return None
        try:
            born = date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14]))
        except ValueError:
            return None
        days = (born - EXTENDED_EPOCH).days
        if not 0 <= days < EXTENDED_DAYS:
            return None
        j = int(id_number[14:17]) * EXTENDED_DAYS + days * EXTENDED_STEP_INVERSE % EXTENDED_DAYS
        n = j + people.RESIDENTS + 1
        if n > self.size or self.adult(n).id_number != id_number:
            return None
        return n


# -- the WeChat service account's followers (mocks/wechat) -----------------------------------
# An openid is the ID number masked and written in base64url: the WeChat mock finds the
# person back from it (``id_number_of_openid``) with nothing stored per person.

_OPENID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_OPENID_MASK = int.from_bytes(b"".join(mix(0x09E1D, i).to_bytes(8, "big") for i in range(3))[:18])
_FOLLOW_PERCENT = 60


def openid_of(id_number: str) -> str:
    """The openid under which the district's service account knows this person (25 chars)."""
    raw = id_number.upper().encode("ascii")
    if len(raw) != 18:
        raise ValueError("an 18-character ID number")
    value = int.from_bytes(raw) ^ _OPENID_MASK
    digits = []
    for _ in range(24):  # 18 bytes = 144 bits = 24 base64 digits
        value, digit = divmod(value, 64)
        digits.append(_OPENID_ALPHABET[digit])
    return "o" + "".join(reversed(digits))


def id_number_of_openid(openid: str) -> str | None:
    """The ID number an openid was made from, or ``None`` for a string no person has."""
    if len(openid) != 25 or not openid.startswith("o"):
        return None
    value = 0
    for char in openid[1:]:
        digit = _OPENID_ALPHABET.find(char)
        if digit < 0:
            return None
        value = value * 64 + digit
    try:
        id_number = (value ^ _OPENID_MASK).to_bytes(18).decode("ascii")
    except (OverflowError, UnicodeDecodeError):
        return None
    return id_number if openid_of(id_number) == openid else None


def follows(id_number: str) -> bool:
    """Whether the person follows the district's WeChat service account (about 60 % do)."""
    body = id_number[:17]
    if len(id_number) != 18 or not body.isdigit():
        return False
    return mix(0xF0110, int(body)) % 100 < _FOLLOW_PERCENT
