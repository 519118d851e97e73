"""社区居家养老服务补贴 · home-care subsidy: hukou in Luohu, alive, 60 or more, assessed by 民政
as needing care (level 1–4); the monthly amount by level (``parameters/home_care.yaml``)."""

from __future__ import annotations

from typing import Any

from openfisca_core.periods import DAY
from openfisca_core.variables import Variable

from hub.approvals.rules import Condition, Rule

P = "home_care"


def variables(entity: Any) -> list[type[Variable]]:
    def var(name: str, kind: type, formula: Any) -> type[Variable]:
        return type(
            f"{P}__{name}", (Variable,),
            {"value_type": kind, "entity": entity, "definition_period": DAY,
             "label": name, "formula": formula},
        )  # fmt: skip

    return [
        var("registered", bool, lambda p, period: p("registered", period)),
        var("alive", bool, lambda p, period: p("alive", period)),
        var("hukou", bool, lambda p, period: p("hukou_in_district", period)),
        var(
            "age", bool,
            lambda p, period, parameters: p("age", period)
            >= parameters(period).home_care.min_age,
        ),
        var("assessed", bool, lambda p, period: p("care_assessed", period)),
        var("needs_care", bool, lambda p, period: p("care_level", period) >= 1),
        var(
            "amount", float,
            lambda p, period, parameters: parameters(period).home_care
            .monthly_amount_fen.calc(p("care_level", period), right=False),
        ),
    ]  # fmt: skip


RULE = Rule(
    code=P,
    impl_code="11440303MB2C93316W4000118012",
    name="居家养老服务补贴申请",
    version="1",
    evidence=frozenset({"population.person", "civil.care_assessment"}),
    conditions=(
        Condition(f"{P}__registered", "NOT_REGISTERED", "户籍人口库中没有此人的记录"),
        Condition(f"{P}__alive", "PERSON_DECEASED", "户籍登记显示此人已故"),
        Condition(f"{P}__hukou", "HUKOU_NOT_IN_DISTRICT", "户籍不在罗湖区"),
        Condition(f"{P}__age", "AGE_BELOW_MINIMUM", "年龄未满60周岁"),
        Condition(f"{P}__assessed", "CARE_NOT_ASSESSED", "尚未进行老年人照护需求评估"),
        Condition(f"{P}__needs_care", "CARE_NOT_NEEDED", "照护需求评估等级为0级（无需照护）"),
    ),
    variables=variables,
    amount_variable=f"{P}__amount",
    allowance_code="JJYL",
    next_step="民政部门将从{month}起按月发放居家养老服务补贴",
)
