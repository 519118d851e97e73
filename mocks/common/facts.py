"""What each government system knows of a person, derived on demand from the person.

Degrees (学历认证), care assessments (民政), social insurance and retirement (人社) and the
standing allowances on the civil ledger: a pure function of the person, the seed and
``as_of``, so that every mock agrees with ``GET /__admin/cases`` without sharing state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from mocks.common.population import LUOHU, Person, Population, age_on, years_before

SCHOOLS = {
    "10001": "北京大学",
    "10003": "清华大学",
    "10246": "复旦大学",
    "10558": "中山大学",
    "10561": "华南理工大学",
    "10590": "深圳大学",
    "11078": "广州大学",
    "14325": "深圳职业技术大学",
}
UNDERGRADUATE_SCHOOLS = ("10001", "10003", "10246", "10558", "10561", "10590", "11078")
MAJORS = ("计算机科学与技术", "汉语言文学", "临床医学", "会计学", "法学", "土木工程", "金融学")
LEVELS = {"博士": ("01", 28), "硕士": ("02", 25), "本科": ("05", 22), "大专": ("06", 21)}
"""Degree → (level code in the certificate number, usual age at graduation)."""
UNITS = (
    "罗湖区人民医院",
    "深圳市罗湖区教育局",
    "华润置地",
    "深圳东门商业有限公司",
    "招商银行深圳分行",
)
GLJT = "GLJT"  # 高龄津贴, the civil ledger's code
ELDERLY_BANDS = ((100, 100_000), (90, 50_000), (80, 30_000), (70, 20_000))
"""Age from which → monthly elderly allowance in fen (Shenzhen: ¥200/300/500/1,000)."""


@dataclass(frozen=True)
class Degree:
    cert_no: str
    holder_name: str
    school_code: str
    degree: str
    major: str
    graduation_date: date
    full_time: bool

    @property
    def school(self) -> str:
        return SCHOOLS[self.school_code]


def last_graduation_day(as_of: date) -> date:
    """The most recent 30 June on or before ``as_of``: this year's graduates."""
    this_year = date(as_of.year, 6, 30)
    return this_year if this_year <= as_of else date(as_of.year - 1, 6, 30)


def degree(population: Population, person: Person) -> Degree | None:
    """The person's highest degree, if any (adults only; cases as the case says)."""
    if person.index is None:
        return None
    wanted = person.traits.get("degree")
    if wanted is not None:
        level, school, major, full_time = wanted
        graduated = last_graduation_day(population.as_of)
        holder = person.name
        if given := person.traits.get("cert_name_given"):
            holder = person.name[0] + given
    else:
        h = person.dice(population.seed, 1)
        if h % 3 == 0:
            return None
        roll = (h >> 4) % 20
        level = "本科" if roll < 12 else "硕士" if roll < 16 else "大专" if roll < 19 else "博士"
        school = "14325" if level == "大专" else UNDERGRADUATE_SCHOOLS[(h >> 9) % 7]
        major = MAJORS[(h >> 13) % len(MAJORS)]
        full_time = (h >> 17) % 10 != 0
        graduated = date(person.birth_date.year + LEVELS[level][1], 6, 30)
        if graduated > population.as_of:
            return None
        holder = person.name
    cert_no = f"{school}{graduated.year}{LEVELS[level][0]}{person.index:07d}"
    return Degree(cert_no, holder, school, level, major, graduated, full_time)


def certificate(population: Population, cert_no: str) -> Degree | None:
    """The degree with this certificate number, or ``None``."""
    if len(cert_no) != 18 or not cert_no.isdigit():
        return None
    index = int(cert_no[11:])
    if not 1 <= index <= population.size:
        return None
    found = degree(population, population.adult(index))
    return found if found is not None and found.cert_no == cert_no else None


def care_assessment(population: Population, person: Person) -> tuple[int, date] | None:
    """(level 0–4, assessed on) for persons of 60 and over who were assessed."""
    assessed_on = population.as_of - timedelta(days=30 + person.dice(population.seed, 2) % 300)
    if "care_level" in person.traits:
        level = person.traits["care_level"]
        return None if level is None else (int(level), assessed_on)
    if age_on(person.birth_date, population.as_of) < 60 or person.dice(population.seed, 3) % 4:
        return None
    return person.dice(population.seed, 4) % 5, assessed_on


def elderly_amount_fen(age: int) -> int | None:
    for lowest, fen in ELDERLY_BANDS:
        if age >= lowest:
            return fen
    return None


def standing_entitlements(population: Population, person: Person) -> list[dict[str, Any]]:
    """Entitlements already on the ledger before the hub wrote any (as_of-derived)."""
    age = age_on(person.birth_date, population.as_of)
    amount = elderly_amount_fen(age)
    entitled = person.traits.get("entitled") == GLJT
    if not entitled and (
        person.case is not None
        or amount is None
        or not person.alive
        or person.hukou_district != LUOHU
        or person.dice(population.seed, 5) % 2
    ):
        return []
    if amount is None:
        return []
    since = years_before(person.birth_date, -70)
    return [
        {
            "entitlement_id": f"EN{person.id_number[-8:]}{GLJT}",
            "allowance_code": GLJT,
            "since": f"{since:%Y-%m}",
            "amount_fen": str(amount),
            "status": "ACTIVE",
        }
    ]


def insurance(population: Population, person: Person) -> dict[str, Any] | None:
    """The 人社 social-insurance record (camelCase, as 人社 names it), or ``None``."""
    age = age_on(person.birth_date, population.as_of)
    h = person.dice(population.seed, 6)
    if age < 18 or (person.index is None and age < 60) or h % 10 == 0:
        return None
    since = years_before(person.birth_date, -(22 + h % 6))
    if since > population.as_of:
        since = population.as_of - timedelta(days=90)
    retired = retirement_date(person)
    until = min(population.as_of, retired) if retired else population.as_of
    months = max((until.year - since.year) * 12 + until.month - since.month, 0)
    months -= (h >> 8) % max(months // 5, 1)
    if not person.alive:
        status = "终止参保"
    elif retired and retired <= population.as_of:
        status = "退休"
    else:
        status = "正常参保" if (h >> 20) % 12 else "暂停缴费"
    return {
        "insuredSince": f"{since:%Y-%m-%d}",
        "unitName": UNITS[(h >> 24) % len(UNITS)] if status != "退休" else None,
        "months": months,
        "status": status,
    }


def retirement_date(person: Person) -> date | None:
    """The statutory retirement day (men 60, women 55, under the old rules)."""
    return years_before(person.birth_date, -(60 if person.sex == "1" else 55))


def retirement(population: Population, person: Person) -> dict[str, Any]:
    day = retirement_date(person)
    insured = insurance(population, person)
    retired = insured is not None and day is not None and day <= population.as_of
    pension = 300_000 + person.dice(population.seed, 7) % 400_000 if retired else None
    return {
        "retired": retired,
        "retireDate": f"{day:%Y-%m-%d}" if retired and day else None,
        "pensionFen": pension,
    }


def case_view(population: Population, name: str, person: Person) -> dict[str, Any]:
    """One entry of ``GET /__admin/cases``: what a test needs to pick the case."""
    found = degree(population, person)
    care = care_assessment(population, person)
    return {
        "case": name,
        "id_number": person.id_number,
        "name": person.name,
        "birth_date": person.birth_date.isoformat(),
        "age": age_on(person.birth_date, population.as_of),
        "household_id": person.household_id,
        "relation": person.relation,
        "resident_id": person.resident_id,
        "alive": person.alive,
        "hukou_district": person.hukou_district,
        "hukou_since": person.hukou_since.isoformat(),
        "hukou_type": person.hukou_type,
        "mobile": person.mobile,
        "cert_no": found.cert_no if found else None,
        "cert_name": found.holder_name if found else None,
        "care_level": care[0] if care else None,
        "entitlements": [e["allowance_code"] for e in standing_entitlements(population, person)],
    }


def cases_view(population: Population) -> dict[str, Any]:
    return {
        "as_of": population.as_of.isoformat(),
        "size": population.size,
        "cases": {name: case_view(population, name, p) for name, p in population.cases().items()},
    }
