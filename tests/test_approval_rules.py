"""The 秒批 rules on their own (OpenFisca, dated parameters): the boundaries of each item."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from hub.approvals.engine import evaluate
from hub.approvals.rules import RULES

DAY = date(2026, 12, 2)


def person(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "registered": True, "birth_date": date(1950, 1, 1), "alive": True,
        "hukou_in_district": True, "hukou_since": date(2000, 1, 1),
    }  # fmt: skip
    return {**base, **changes}


def failed(code: str, inputs: dict[str, Any]) -> list[str]:
    rule = RULES[code]
    evaluation = evaluate(rule, inputs, DAY)
    return [c.code for c in rule.conditions if not evaluation.conditions[c.variable]]


@pytest.mark.parametrize(
    ("born", "amount"),
    [
        (date(1956, 12, 3), None),  # turns 70 tomorrow
        (date(1956, 12, 2), 20000),  # turns 70 today
        (date(1946, 12, 3), 20000),  # 79
        (date(1946, 12, 2), 30000),  # 80 today
        (date(1936, 12, 3), 30000),
        (date(1936, 12, 2), 50000),
        (date(1926, 12, 3), 50000),
        (date(1926, 12, 2), 100000),
    ],
)
def test_elderly_allowance_bands_in_force_on_the_day(born: date, amount: int | None) -> None:
    evaluation = evaluate(RULES["elderly_allowance"], person(birth_date=born), DAY)
    assert evaluation.amount_fen == amount


def test_every_failed_condition_is_a_reason() -> None:
    inputs = person(alive=False, hukou_in_district=False, birth_date=date(1960, 1, 1))
    assert failed("elderly_allowance", inputs) == [
        "PERSON_DECEASED", "HUKOU_NOT_IN_DISTRICT", "AGE_BELOW_MINIMUM",
    ]  # fmt: skip
    assert failed("elderly_allowance", {})[0] == "NOT_REGISTERED"


@pytest.mark.parametrize(("level", "amount"), [(1, 20000), (2, 30000), (3, 40000), (4, 50000)])
def test_home_care_amount_by_level(level: int, amount: int) -> None:
    inputs = person(care_assessed=True, care_level=level)
    assert evaluate(RULES["home_care"], inputs, DAY).amount_fen == amount


def test_home_care_level_0_and_not_assessed() -> None:
    assert failed("home_care", person(care_assessed=True, care_level=0)) == ["CARE_NOT_NEEDED"]
    assert failed("home_care", person(care_assessed=False)) == [
        "CARE_NOT_ASSESSED", "CARE_NOT_NEEDED",
    ]  # fmt: skip


def test_family_planning_children() -> None:
    assert failed("family_planning", person(living_children=1)) == []
    assert failed("family_planning", person(living_children=2)) == ["TOO_MANY_CHILDREN"]


def graduate(**changes: Any) -> dict[str, Any]:
    base = person(
        birth_date=date(2003, 5, 1), hukou_in_district=False, degree_verified=True,
        degree_level=2, degree_full_time=True, graduation_date=date(2026, 6, 30),
    )  # fmt: skip
    return {**base, **changes}


def test_graduate_transfer() -> None:
    assert failed("graduate_transfer", graduate()) == []
    assert (
        failed(
            "graduate_transfer",
            graduate(degree_verified=False, degree_level=0, degree_full_time=False),
        )[0]
        == "DEGREE_NOT_VERIFIED"
    )
    assert failed("graduate_transfer", graduate(degree_level=1)) == ["DEGREE_LEVEL"]
    assert failed("graduate_transfer", graduate(birth_date=date(1990, 1, 1))) == ["AGE_ABOVE_LIMIT"]
    assert failed("graduate_transfer", graduate(birth_date=date(1990, 1, 1), degree_level=4)) == []
