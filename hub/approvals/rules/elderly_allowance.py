"""高龄津贴 · elderly allowance: hukou in Luohu, alive, aged 70 or more on the day; the monthly
amount by age band (``parameters/elderly_allowance.yaml``), paid by 民政 from next month."""

from __future__ import annotations

from typing import Any

from openfisca_core.periods import DAY
from openfisca_core.variables import Variable

from hub.approvals.rules import Condition, Rule

P = "elderly_allowance"


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
            "hukou_long_enough", bool,
            lambda p, period, parameters: p("hukou_months", period)
            >= parameters(period).elderly_allowance.min_hukou_months,
        ),
        var(
            "age", bool,
            lambda p, period, parameters: p("age", period)
            >= parameters(period).elderly_allowance.min_age,
        ),
        var(
            "amount", float,
            lambda p, period, parameters: parameters(period).elderly_allowance
            .monthly_amount_fen.calc(p("age", period), right=False),
        ),
    ]  # fmt: skip


RULE = Rule(
    code=P,
    impl_code="11440303MB2C93316W4000118004",
    name="高龄津贴申领",
    version="1",
    evidence=frozenset({"population.person"}),
    conditions=(
        Condition(f"{P}__registered", "NOT_REGISTERED", "户籍人口库中没有此人的记录"),
        Condition(f"{P}__alive", "PERSON_DECEASED", "户籍登记显示此人已故"),
        Condition(f"{P}__hukou", "HUKOU_NOT_IN_DISTRICT", "户籍不在罗湖区"),
        Condition(f"{P}__hukou_long_enough", "HUKOU_TOO_RECENT", "户籍迁入时间未满规定月数"),
        Condition(f"{P}__age", "AGE_BELOW_MINIMUM", "年龄未满70周岁"),
    ),
    variables=variables,
    amount_variable=f"{P}__amount",
    allowance_code="GLJT",
    next_step="民政部门将从{month}起按月发放高龄津贴至您的社保卡银行账户",
)
