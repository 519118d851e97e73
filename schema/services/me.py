"""``me { services }``: the catalogue as it concerns the signed-in resident.

Recommendations follow from what the hub itself holds (the resident's age, the household's
children): no department is asked, only the hub's copy of the catalogue. The rules, in order:

| when (resident's age, or a child's in the household) | suggests            |
|------------------------------------------------------|---------------------|
| a child under 1                                      | 出生 birth          |
| a child under 1                                      | 生育 childbirth     |
| a child of 3–15                                      | 入学 school         |
| a child of 6–18                                      | 学生 students' zone |
| the resident is 18–59                                | 就业 work           |
| the resident is 20–40                                | 婚姻 marriage       |
| the resident is 22–59                                | 住房 housing        |
| the resident is 55 or over (near or past retirement) | 退休 retirement     |
| the resident is 60 or over                           | 老年人 elderly zone |
| always                                               | 全生命周期 whole life |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import strawberry

from connectors.catalogue.models import Item
from schema.common import age_on
from schema.context import HubInfo, ItemFilter, ResidentProfile
from schema.pagination import check_first
from schema.services.items import ServiceItem, item_of
from schema.services.scenarios import ScenarioGuide, guide_of
from schema.services.types import LIFE_STAGE_NAMES, LifeStage, ServiceGroup

CHINA = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class Facts:
    """What the rules look at: the resident's age and their household's children's ages."""

    age: int
    child_ages: tuple[int, ...]


def _child(youngest: int, oldest: int) -> Callable[[Facts], bool]:
    return lambda f: any(youngest <= age <= oldest for age in f.child_ages)


def _aged(youngest: int, oldest: int = 200) -> Callable[[Facts], bool]:
    return lambda f: youngest <= f.age <= oldest


@dataclass(frozen=True)
class Rule:
    reason: str
    applies: Callable[[Facts], bool]
    life_stage: LifeStage | None = None
    group: ServiceGroup | None = None


# fmt: off
STUDENTS, ELDERLY = ServiceGroup.STUDENTS, ServiceGroup.ELDERLY
RULES: tuple[Rule, ...] = (
    Rule("家中有新生儿 · A newborn at home",        _child(0, 0),  LifeStage.BIRTH),
    Rule("家中有新生儿 · Childbirth benefits",      _child(0, 0),  LifeStage.CHILDBIRTH),
    Rule("子女适龄入学 · A child of school age",    _child(3, 15), LifeStage.SCHOOL),
    Rule("子女在读 · A child at school",            _child(6, 18), group=STUDENTS),
    Rule("就业年龄 · Of working age",               _aged(18, 59), LifeStage.WORK),
    Rule("适婚年龄 · Of marrying age",              _aged(20, 40), LifeStage.MARRIAGE),
    Rule("安居 · Of home-buying age",               _aged(22, 59), LifeStage.HOUSING),
    Rule("临近或已到退休年龄 · Near retirement",    _aged(55),     LifeStage.RETIREMENT),
    Rule("老年人 · 60 or over",                     _aged(60),     group=ELDERLY),
    Rule("每位居民 · Every resident",               _aged(0),      LifeStage.WHOLE_LIFE),
)
# fmt: on


def facts_of(resident: ResidentProfile, today: dt.date) -> Facts:
    return Facts(
        age=age_on(resident.birth_date, today),
        child_ages=tuple(age_on(p.birth_date, today) for p in resident.household if p.member_no),
    )


def rules_for(resident: ResidentProfile) -> list[Rule]:
    facts = facts_of(resident, dt.datetime.now(CHINA).date())
    return [rule for rule in RULES if rule.applies(facts)]


async def _items(info: HubInfo, rule: Rule, limit: int) -> tuple[int, list[Item]]:
    where = ItemFilter(
        life_stage=rule.life_stage.value if rule.life_stage else None,
        group=rule.group.value if rule.group else None,
    )
    found = await info.context.catalogue.items(where, offset=0, limit=limit)
    return found.total, [hit.item for hit in found.hits]


@strawberry.type(description="An item suggested to the resident, and why.")
class Recommendation:
    item: ServiceItem
    reason: str
    life_stage: LifeStage | None
    group: ServiceGroup | None


@strawberry.type(description="A life stage the resident is in, with its items.")
class LifeStageSuggestion:
    life_stage: LifeStage
    name: str
    reason: str
    total_count: int = strawberry.field(description="How many items the stage carries.")
    items: list[ServiceItem] = strawberry.field(description="The first of them.")


@strawberry.type(description="我的办事 · The catalogue as it concerns the signed-in resident.")
class MyServices:
    resident: strawberry.Private[ResidentProfile]

    @strawberry.field(
        description="Items for the resident's age and household, a few from each rule that "
        "applies in turn (newborn, school, retirement, elderly …)."
    )
    async def recommended(self, info: HubInfo, first: int = 10) -> list[Recommendation] | None:
        limit = check_first(first)
        lists = [(rule, (await _items(info, rule, limit))[1]) for rule in rules_for(self.resident)]
        chosen: dict[str, Recommendation] = {}
        for position in range(limit):
            for rule, items in lists:
                if position < len(items) and len(chosen) < limit:
                    item = items[position]
                    chosen.setdefault(
                        item.impl_code,
                        Recommendation(
                            item=item_of(item, self.resident.community),
                            reason=rule.reason,
                            life_stage=rule.life_stage,
                            group=rule.group,
                        ),
                    )
        return list(chosen.values())

    @strawberry.field(description="The life stages the resident is in, each with its first items.")
    async def suggested_by_life_stage(
        self, info: HubInfo, first: int = 5
    ) -> list[LifeStageSuggestion] | None:
        limit = check_first(first)
        suggestions = []
        for rule in rules_for(self.resident):
            if rule.life_stage is None:
                continue
            total, items = await _items(info, rule, limit)
            suggestions.append(
                LifeStageSuggestion(
                    life_stage=rule.life_stage,
                    name=LIFE_STAGE_NAMES[rule.life_stage],
                    reason=rule.reason,
                    total_count=total,
                    items=[item_of(item, self.resident.community) for item in items],
                )
            )
        return suggestions

    @strawberry.field(
        description="One item, with the places near the resident first (their own community "
        "and street centres); null if unknown."
    )
    async def item(self, info: HubInfo, code: strawberry.ID) -> ServiceItem | None:
        found = await info.context.catalogue.item(str(code))
        return item_of(found, self.resident.community) if found else None

    @strawberry.field(
        description="One scenario guide with its form pre-filled from what the hub holds "
        "(name, masked ID number, address, household); null if unknown."
    )
    async def scenario(self, info: HubInfo, id: strawberry.ID) -> ScenarioGuide | None:
        found = await info.context.catalogue.scenario(str(id))
        return guide_of(found, self.resident, info.context.principal) if found else None
