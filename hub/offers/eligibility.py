"""Eligibility of a whole export page at once (numpy): who is eligible now, who becomes so by
the horizon, and from which day.

The age and the hukou months are counted as the rules count them
(``hub.approvals.facts.years_between`` and ``months_between``): a threshold is reached on the
first day those functions reach it, so a person born on 29 February turns 70 on 1 March in a
common year. ``tests/test_offers_scan.py`` checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt

from connectors.population.models import ExportPage
from hub.approvals.facts import LUOHU
from hub.offers.proactive import Thresholds

Dates = npt.NDArray[np.datetime64]
Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Verdicts:
    """Per row of a page: eligible on the day (``now``), from a day by the horizon
    (``upcoming``), and the first day of eligibility (meaningful where either holds)."""

    now: Mask
    upcoming: Mask
    eligible_from: Dates


def birthday(born: Dates, years: int) -> Dates:
    """The first day on which each person of ``born`` is ``years`` old."""
    months = born.astype("datetime64[M]")
    later: Dates = (months + np.timedelta64(12 * years, "M")).astype("datetime64[D]")
    shifted: Dates = later + (born - months.astype("datetime64[D]"))
    return shifted


def months_reached(since: Dates, months: int) -> Dates:
    """The first day on which ``months_between(since, day)`` is ``months``: a month's first."""
    return (since.astype("datetime64[M]") + np.timedelta64(months, "M")).astype("datetime64[D]")


def evaluate(
    page: ExportPage, *, today: date, horizon: date, limits: Thresholds, district: str = LUOHU
) -> Verdicts:
    day, last = np.datetime64(today, "D"), np.datetime64(horizon, "D")
    start = np.maximum(
        birthday(page.birth_date, limits.min_age),
        months_reached(page.hukou_since, limits.min_hukou_months),
    )
    possible = page.alive & (page.hukou_district == district) & (start <= last)
    if limits.max_age is not None:
        # still young enough on the day eligibility begins (or today, if it began before)
        possible &= np.maximum(start, day) < birthday(page.birth_date, limits.max_age + 1)
    now = possible & (start <= day)
    return Verdicts(now=now, upcoming=possible & ~now, eligible_from=start)
