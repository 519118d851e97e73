"""计划生育奖励 · family-planning reward: hukou in Luohu, alive, 60 or more, at most one living
child in the registry household (``parameters/family_planning.yaml``)."""

from __future__ import annotations

from typing import Any

from openfisca_core.periods import DAY
from openfisca_core.variables import Variable

from hub.approvals.rules import Condition, Rule

P = "family_planning"


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
            >= parameters(period).family_planning.min_age,
        ),
        var(
            "children", bool,
            lambda p, period, parameters: p("living_children", period)
            <= parameters(period).family_planning.max_children,
        ),
        var(
            "amount", float,
            lambda p, period, parameters: p("registered", period)
            * parameters(period).family_planning.monthly_amount_fen,
        ),
    ]  # fmt: skip


RULE = Rule(
    code=P,
    impl_code="11440303MB2C93316W4000118020",
    name="计划生育奖励申请",
    version="1",
    evidence=frozenset({"population.person", "population.household"}),
    conditions=(
        Condition(f"{P}__registered", "NOT_REGISTERED", "户籍人口库中没有此人的记录"),
        Condition(f"{P}__alive", "PERSON_DECEASED", "户籍登记显示此人已故"),
        Condition(f"{P}__hukou", "HUKOU_NOT_IN_DISTRICT", "户籍不在罗湖区"),
        Condition(f"{P}__age", "AGE_BELOW_MINIMUM", "年龄未满60周岁"),
        Condition(f"{P}__children", "TOO_MANY_CHILDREN", "户内在世子女数超过奖励条件"),
    ),
    variables=variables,
    amount_variable=f"{P}__amount",
    allowance_code="JHSY",
    next_step="卫健部门将从{month}起按月发放计划生育奖励",
)
