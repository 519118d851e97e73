"""The facts departments give, as OpenFisca input variables of the applicant, and how a
department's record becomes them (``inputs``). Derived facts (age, hukou months) are
formulas here, computed on the decision's day (the simulation's period)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
from openfisca_core.periods import DAY, ETERNITY
from openfisca_core.variables import Variable

LUOHU = "440303"
DEGREE_LEVELS = {"大专": 1, "本科": 2, "硕士": 3, "博士": 4}


def years_between(born: Any, instant: Any) -> Any:
    """Whole years from each date of ``born`` (datetime64[D]) to ``instant`` (the period's
    start, or any date): the age in the rules, and in the proactive scan (``hub.offers``)."""
    year = born.astype("datetime64[Y]").astype(int) + 1970
    month = born.astype("datetime64[M]").astype(int) % 12 + 1
    day = (born - born.astype("datetime64[M]")).astype(int) + 1
    before = (instant.month < month) | ((instant.month == month) & (instant.day < day))
    return instant.year - year - before.astype(int)


def months_between(since: Any, instant: Any) -> Any:
    """Calendar months from each date of ``since`` (datetime64[D]) to ``instant``'s month:
    how long the hukou has been in the district, in the rules and in the proactive scan."""
    months = since.astype("datetime64[M]").astype(int)
    return (instant.year - 1970) * 12 + instant.month - 1 - months


def variables(entity: Any) -> list[type[Variable]]:
    def fact(name: str, kind: type, label: str, default: Any = None) -> type[Variable]:
        attributes: dict[str, Any] = {
            "value_type": kind, "entity": entity, "definition_period": ETERNITY, "label": label,
        }  # fmt: skip
        if default is not None:
            attributes["default_value"] = default
        return type(name, (Variable,), attributes)

    def age_formula(person: Any, period: Any) -> Any:
        return years_between(person("birth_date", period), period.start)

    def hukou_months_formula(person: Any, period: Any) -> Any:
        return months_between(person("hukou_since", period), period.start)

    def years_since_graduation_formula(person: Any, period: Any) -> Any:
        return years_between(person("graduation_date", period), period.start)

    def derived(name: str, formula: Any, label: str) -> type[Variable]:
        attributes = {
            "value_type": int, "entity": entity, "definition_period": DAY, "label": label,
            "formula": formula,
        }  # fmt: skip
        return type(name, (Variable,), attributes)

    return [
        fact("registered", bool, "户籍库有此人 · the registry knows the person", False),
        fact("birth_date", date, "出生日期 · birth date"),
        fact("alive", bool, "在世 · alive", False),
        fact("hukou_in_district", bool, "户籍在本区 · hukou in Luohu", False),
        fact("hukou_since", date, "户籍迁入日期 · hukou registered since"),
        fact("living_children", int, "在世子女数 · living children in the household", 0),
        fact("care_assessed", bool, "已做照护评估 · a care assessment exists", False),
        fact("care_level", int, "照护等级 0–4 · care assessment level", 0),
        fact("degree_verified", bool, "学历核验通过 · degree verified under the name", False),
        fact("degree_level", int, "学历层次 1 大专 … 4 博士 · degree level", 0),
        fact("degree_full_time", bool, "全日制 · full-time study", False),
        fact("graduation_date", date, "毕业日期 · graduation date"),
        derived("age", age_formula, "年龄（周岁）· age in whole years on the day"),
        derived("hukou_months", hukou_months_formula, "户籍迁入月数 · months since hukou"),
        derived("years_since_graduation", years_since_graduation_formula, "毕业年数 · years since"),
    ]


_ = np  # numpy is OpenFisca's array type: the formulas above receive and return its arrays


def inputs(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The input variables from department records (``evidence`` by fact name)."""
    found: dict[str, Any] = {}
    person = evidence.get("population.person")
    if person is not None:
        found.update(
            registered=True,
            birth_date=person.birth_date,
            alive=person.alive,
            hukou_in_district=person.hukou_district == LUOHU,
            hukou_since=person.hukou_since,
        )
    household = evidence.get("population.household")
    if household is not None:
        found["living_children"] = sum(
            1 for m in household.members if m.alive and m.relation in ("子", "女", "长子", "长女")
        )
    if "civil.care_assessment" in evidence:
        care = evidence["civil.care_assessment"]
        found["care_assessed"] = care is not None
        found["care_level"] = care.level if care is not None else 0
    verification = evidence.get("credentials.degree")
    if verification is not None:
        found["degree_verified"] = verification.valid
        if verification.credential is not None:
            credential = verification.credential
            found["degree_level"] = DEGREE_LEVELS.get(credential.degree.value, 0)
            found["degree_full_time"] = credential.full_time
            found["graduation_date"] = credential.graduation_date
    return found
