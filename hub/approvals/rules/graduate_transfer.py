"""应届毕业生入户 · graduate residence transfer: a full-time degree (本科 or above) verified under
the applicant's registered name, graduated within the last years, under the age limit of the
degree (``parameters/graduate_transfer.yaml``). Nothing is paid: 公安 registers
the transfer."""

from __future__ import annotations

from typing import Any

import numpy as np
from openfisca_core.periods import DAY
from openfisca_core.variables import Variable

from hub.approvals.rules import Condition, Rule

P = "graduate_transfer"


def _age_ok(p: Any, period: Any, parameters: Any) -> Any:
    limits = parameters(period).graduate_transfer.max_age
    level = p("degree_level", period)
    limit = np.select([level >= 4, level == 3], [limits.doctor, limits.master], limits.bachelor)
    return p("age", period) <= limit


def variables(entity: Any) -> list[type[Variable]]:
    def var(name: str, kind: type, formula: Any) -> type[Variable]:
        return type(
            f"{P}__{name}", (Variable,),
            {"value_type": kind, "entity": entity, "definition_period": DAY,
             "label": name, "formula": formula},
        )  # fmt: skip

    return [
        var("registered", bool, lambda p, period: p("registered", period)),
        var("verified", bool, lambda p, period: p("degree_verified", period)),
        var("level", bool, lambda p, period: p("degree_level", period) >= 2),
        var("full_time", bool, lambda p, period: p("degree_full_time", period)),
        var(
            "recent", bool,
            lambda p, period, parameters: p("years_since_graduation", period)
            < parameters(period).graduate_transfer.max_years_since_graduation,
        ),
        var("age", bool, _age_ok),
    ]  # fmt: skip


RULE = Rule(
    code=P,
    impl_code="11440303MB2C93316W4000112007",
    name="应届毕业生落户",
    version="1",
    evidence=frozenset({"population.person", "credentials.degree"}),
    conditions=(
        Condition(f"{P}__registered", "NOT_REGISTERED", "户籍人口库中没有此人的记录"),
        Condition(f"{P}__verified", "DEGREE_NOT_VERIFIED", "学历证书未能在您的登记姓名下核验"),
        Condition(f"{P}__level", "DEGREE_LEVEL", "学历须为全日制本科及以上"),
        Condition(f"{P}__full_time", "NOT_FULL_TIME", "学历须为全日制"),
        Condition(f"{P}__recent", "NOT_RECENT_GRADUATE", "毕业时间已超过应届毕业生认定期限"),
        Condition(f"{P}__age", "AGE_ABOVE_LIMIT", "年龄超过该学历层次的入户年龄上限"),
    ),
    variables=variables,
    answers=frozenset({"certNo"}),
    next_step="公安部门将在1个工作日内办理户籍迁入，请留意短信通知",
)
