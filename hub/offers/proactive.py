"""The proactive items (主动推送, ``departments-gov.md``): to whom each is offered, how early, on
which channels, and how often.

No threshold is written here: an item's ages and hukou months are its OpenFisca parameters
(``hub/approvals/parameters/<code>.yaml``, dated), the figures the 秒批 rules decide with, read
for the scan's day (``ProactiveItem.thresholds``). The scan sees what the registry's bulk
export holds (birth date, hukou, alive), so it offers on those facts; what only another
department knows (home_care's care level, family_planning's children) the 秒批 rules check when
the resident accepts the offer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from hub.approvals import engine
from hub.approvals.rules import RULES

MAX_AGE_ON_RECORD = 120
"""The oldest age an export window reaches back to when an item has no upper age."""


class Channel(StrEnum):
    SMS = "sms"
    WECHAT = "wechat"
    APP = "app"


def once(day: date) -> str:
    """The period of an item offered once in a lifetime."""
    return "once"


def yearly(day: date) -> str:
    """The period of an item offered once a year: the year of the day it is offered for."""
    return str(day.year)


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (29 February → 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class Thresholds:
    """An item's conditions on the registry's facts, as in force on one day."""

    min_age: int
    max_age: int | None
    """Oldest age (inclusive) still offered, or no limit."""
    min_hukou_months: int


@dataclass(frozen=True)
class ProactiveItem:
    code: str
    """The hub's item code; its figures are ``hub/approvals/parameters/<code>.yaml``."""
    impl_code: str
    """The catalogue's implementation code: the exchange's purpose for the scan's export."""
    name: str
    channels: tuple[Channel, ...]
    lead: timedelta
    """How long before a resident becomes eligible the offer goes out."""
    period: Callable[[date], str]
    """The period of an offer made for a day (``once`` or ``yearly``): one offer per resident,
    item and period."""
    expires_after: timedelta
    """How long an offer stands once made."""

    def thresholds(self, today: date) -> Thresholds:
        node = getattr(engine.engine().parameters(today.isoformat()), self.code)
        return Thresholds(
            min_age=int(node.min_age),
            max_age=int(node.max_age) if "max_age" in node else None,
            min_hukou_months=int(node.min_hukou_months) if "min_hukou_months" in node else 0,
        )

    def horizon(self, today: date) -> date:
        """The last day of the coming window: eligible by then is offered now."""
        return today + self.lead

    def window(self, today: date) -> tuple[date, date]:
        """The birth dates (first, last; both included) of everyone the item may be offered to
        on ``today``: old enough by the horizon, and not too old today."""
        limits = self.thresholds(today)
        last = years_before(self.horizon(today), limits.min_age)
        oldest = limits.max_age if limits.max_age is not None else MAX_AGE_ON_RECORD
        return years_before(today, oldest + 1) + timedelta(days=1), last


DAYS = timedelta(days=1)
_ELDERLY, _HOME_CARE, _FAMILY = (
    RULES[code] for code in ("elderly_allowance", "home_care", "family_planning")
)

PROACTIVE: Mapping[str, ProactiveItem] = {
    item.code: item
    for item in (
        ProactiveItem(
            _ELDERLY.code, _ELDERLY.impl_code, "高龄津贴", (Channel.SMS, Channel.APP),
            lead=61 * DAYS, period=once, expires_after=90 * DAYS,
        ),
        ProactiveItem(
            _HOME_CARE.code, _HOME_CARE.impl_code, "社区居家养老服务补贴",
            (Channel.SMS, Channel.WECHAT, Channel.APP),
            lead=30 * DAYS, period=yearly, expires_after=90 * DAYS,
        ),
        ProactiveItem(
            _FAMILY.code, _FAMILY.impl_code, "计划生育奖励",
            (Channel.SMS, Channel.WECHAT, Channel.APP),
            lead=30 * DAYS, period=yearly, expires_after=90 * DAYS,
        ),
        ProactiveItem(
            "housing_info", "11440303MB2C93316W4000120031", "政策性住房信息查询",
            (Channel.WECHAT, Channel.APP),
            lead=30 * DAYS, period=yearly, expires_after=90 * DAYS,
        ),
    )
}  # fmt: skip
"""The four proactive items by code; three are 秒批 items (their ``impl_code`` is the rule's)."""
