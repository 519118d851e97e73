"""The proactive eligibility scan: against the real exchange mock (every candidate the rules'
own age and hukou facts allow, each once; the boundary cases; a crashed scan resumed), and on
pages made here for the boundaries of the ages, the hukou months and the periods."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import aiohttp
import numpy as np
import pytest

from connectors.errors import UpstreamRejected
from connectors.population import PopulationConnector
from connectors.population.models import ExportPage
from hub.approvals.facts import months_between, years_between
from hub.offers.proactive import PROACTIVE, Channel, ProactiveItem, Thresholds, years_before
from hub.offers.scan import Candidate, MemorySink, Reason, candidates, scan
from mocks.common import people
from mocks.common.population import LUOHU, Person, Population
from tests.gov import cases, fresh_admin, policy, start_mock
from tests.support import BackgroundMocks, MockAdmin

AS_OF = date(2026, 12, 3)
SIZE = 20_000
EXPORT = "POST /exchange/v1/person/export"
ELDERLY, HOUSING = PROACTIVE["elderly_allowance"], PROACTIVE["housing_info"]


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("population", tmp_path_factory, population=SIZE, as_of=AS_OF)
    yield mocks
    mocks.close()


@pytest.fixture(scope="module")
def everyone() -> list[Person]:
    """Every person of the mock's registry, made here by the same rules (not by birth date)."""
    registry = Population(SIZE, seed=20261127, as_of=AS_OF)
    found = {registry.adult(n).id_number: registry.adult(n) for n in range(1, SIZE + 1)}
    for k in range(1, people.RESIDENTS // 2 + 1):
        found.update((m.id_number, m) for m in registry.household(f"H{k:04d}") or [])
    return list(found.values())


@pytest.fixture
def exchange(running: BackgroundMocks) -> MockAdmin:
    return fresh_admin(running.urls["population"])


@pytest.fixture
async def population(exchange: MockAdmin) -> AsyncIterator[PopulationConnector]:
    async with aiohttp.ClientSession() as session:
        yield PopulationConnector(session, policy("population", exchange.url))


@dataclass(frozen=True)
class Facts:
    born: Any
    since: Any
    here: Any

    @classmethod
    def of(cls, persons: list[Person]) -> Facts:
        return cls(
            np.array([p.birth_date for p in persons], dtype="datetime64[D]"),
            np.array([p.hukou_since for p in persons], dtype="datetime64[D]"),
            np.array([p.alive and p.hukou_district == LUOHU for p in persons]),
        )


def rules_allow(item: ProactiveItem, persons: Facts, day: date) -> Any:
    """Per person: the item's conditions (as in force on the scan's day) on ``day``, with the
    秒批 rules' own age and hukou-month facts (``years_between``, ``months_between``)."""
    limits = item.thresholds(AS_OF)
    ages, months = years_between(persons.born, day), months_between(persons.since, day)
    allowed = persons.here & (ages >= limits.min_age) & (months >= limits.min_hukou_months)
    if limits.max_age is not None:
        allowed &= ages <= limits.max_age
    return allowed


def expected(item: ProactiveItem, everyone: list[Person]) -> dict[str, tuple[Reason, date]]:
    """Who the rules allow today (NOW), or first on a day by the horizon (UPCOMING): the
    rules asked day by day, not the scan's first-day arithmetic."""
    found: dict[str, tuple[Reason, date]] = {}
    facts = Facts.of(everyone)
    for ahead in range((item.horizon(AS_OF) - AS_OF).days + 1):
        day = AS_OF + timedelta(days=ahead)
        reason = Reason.NOW if ahead == 0 else Reason.UPCOMING
        for row in np.flatnonzero(rules_allow(item, facts, day)).tolist():
            found.setdefault(everyone[row].id_number, (reason, day))
    return found


class CrashingSink(MemorySink):
    """Takes ``pages`` pages, then fails as a crashed process would."""

    def __init__(self, pages: int) -> None:
        super().__init__()
        self.pages = pages

    async def accept(self, candidates: list[Candidate], cursor: str | None) -> None:
        if len(self.cursors) == self.pages:
            raise RuntimeError("crashed")
        await super().accept(candidates, cursor)


@pytest.mark.parametrize("code", sorted(PROACTIVE))
async def test_the_scan_finds_exactly_whom_the_rules_allow_each_once(
    code: str,
    population: PopulationConnector,
    exchange: MockAdmin,
    everyone: list[Person],
) -> None:
    # given an item and the registry
    item = PROACTIVE[code]
    seen: list[int] = []
    sink = MemorySink()
    # when the whole registry is scanned in pages of 1,000
    result = await scan(
        item, population=population, today=AS_OF, sink=sink, progress=seen.append, page_size=1000
    )
    # then each person the rules allow today or by the horizon is a candidate, once
    found = {c.id_number: c for c in sink.candidates}
    assert len(found) == len(sink.candidates) == result.candidates
    wanted = expected(item, everyone)
    assert {i: c.reason for i, c in found.items()} == {i: r for i, (r, _) in wanted.items()}
    by_id = {p.id_number: p for p in everyone}
    for candidate in sink.candidates:
        reason, first_allowed = wanted[candidate.id_number]
        if reason is Reason.UPCOMING:
            assert candidate.eligible_from == first_allowed
            year = candidate.eligible_from.year
        else:
            year = AS_OF.year
        assert candidate.period == ("once" if code == "elderly_allowance" else str(year))
        assert candidate.item == code
    # and the day eligibility began is one the rules allow, and the day before one they do not
    now = [c for c in sink.candidates if c.reason is Reason.NOW]
    facts = Facts.of([by_id[c.id_number] for c in now])
    for row, candidate in enumerate(now):
        one = Facts(
            facts.born[row : row + 1], facts.since[row : row + 1], facts.here[row : row + 1]
        )
        assert rules_allow(item, one, candidate.eligible_from)[0], candidate
        assert not rules_allow(item, one, candidate.eligible_from - timedelta(days=1))[0]
    # and one export call per page, the sink and the progress told after each
    assert result.pages == exchange.calls(EXPORT) == len(sink.cursors) == len(seen)
    assert sink.cursors[-1] is None and result.cursor is None
    assert seen == sorted(seen) and seen[-1] == result.persons


async def test_the_boundary_cases_of_the_elderly_allowance(
    population: PopulationConnector, exchange: MockAdmin
) -> None:
    listed = cases(exchange.url)
    sink = MemorySink()
    await scan(ELDERLY, population=population, today=AS_OF, sink=sink)
    found: dict[str, list[Candidate]] = {}
    for candidate in sink.candidates:
        found.setdefault(candidate.id_number, []).append(candidate)

    def of(case: str) -> list[Candidate]:
        return found.get(listed[case]["id_number"], [])

    [soon] = of("turns_70_in_two_months")
    assert (soon.reason, soon.eligible_from, soon.period) == (
        Reason.UPCOMING,
        AS_OF + timedelta(days=61),
        "once",
    )
    assert soon.mobile == listed["turns_70_in_two_months"]["mobile"]
    assert soon.name == listed["turns_70_in_two_months"]["name"]
    [tomorrow] = of("turns_70_tomorrow")
    assert (tomorrow.reason, tomorrow.eligible_from) == (
        Reason.UPCOMING,
        AS_OF + timedelta(days=1),
    )
    for case in ("turns_70_today", "turns_80_today", "turns_100_tomorrow", "care_level_3"):
        [now] = of(case)
        assert now.reason is Reason.NOW and now.eligible_from <= AS_OF
    assert of("elderly_hukou_elsewhere") == [], "hukou in another district"
    assert of("dead_aged_85") == []
    assert of("graduate_bachelor") == []


async def test_a_crashed_scan_resumes_after_the_last_accepted_page(
    population: PopulationConnector, exchange: MockAdmin
) -> None:
    whole = MemorySink()
    full = await scan(ELDERLY, population=population, today=AS_OF, sink=whole, page_size=700)
    assert full.pages >= 5
    # given a scan whose sink failed after accepting two pages
    crashed = CrashingSink(pages=2)
    with pytest.raises(RuntimeError, match="crashed"):
        await scan(ELDERLY, population=population, today=AS_OF, sink=crashed, page_size=700)
    exchange.reset()
    # when it resumes from the last cursor the sink accepted
    rest = MemorySink()
    resumed = await scan(
        ELDERLY,
        population=population,
        today=AS_OF,
        sink=rest,
        resume_from=crashed.cursors[-1],
        page_size=700,
    )
    # then it yields exactly what the crashed scan had not accepted, and nothing twice
    assert crashed.candidates + rest.candidates == whole.candidates
    assert not {c.id_number for c in crashed.candidates} & {c.id_number for c in rest.candidates}
    assert resumed.pages == full.pages - 2 == exchange.calls(EXPORT)


async def test_a_cursor_of_another_day_is_refused(population: PopulationConnector) -> None:
    crashed = CrashingSink(pages=1)
    with pytest.raises(RuntimeError):
        await scan(ELDERLY, population=population, today=AS_OF, sink=crashed, page_size=500)
    with pytest.raises(UpstreamRejected) as refused:
        await scan(
            ELDERLY,
            population=population,
            today=AS_OF + timedelta(days=1),
            sink=MemorySink(),
            resume_from=crashed.cursors[-1],
            page_size=500,
        )
    assert refused.value.code == "E_BAD_CURSOR"


def test_the_items_read_their_thresholds_from_the_parameters() -> None:
    assert HOUSING.thresholds(AS_OF) == Thresholds(min_age=22, max_age=35, min_hukou_months=12)
    assert ELDERLY.thresholds(AS_OF) == Thresholds(min_age=70, max_age=None, min_hukou_months=0)
    assert PROACTIVE["home_care"].thresholds(AS_OF).min_age == 60
    assert PROACTIVE["family_planning"].thresholds(AS_OF).min_age == 60
    assert ELDERLY.window(AS_OF) == (
        years_before(AS_OF, 121) + timedelta(days=1),
        years_before(AS_OF + timedelta(days=61), 70),
    )
    assert HOUSING.window(AS_OF) == (date(1990, 12, 4), date(2005, 1, 2))
    assert ELDERLY.channels == (Channel.SMS, Channel.APP)
    assert HOUSING.channels == (Channel.WECHAT, Channel.APP)
    assert ELDERLY.expires_after == timedelta(days=90)


def page_of(*rows: dict[str, Any]) -> ExportPage:
    """A page made here: ``born``, ``since`` (default: born), ``district``, ``alive``."""

    def dates(key: str) -> Any:
        return np.array([r.get(key, r["born"]) for r in rows], dtype="datetime64[D]")

    def texts(values: list[str]) -> Any:
        return np.array(values, dtype=np.str_)

    n = len(rows)
    return ExportPage(
        id_number=texts([f"P{i:03d}" for i in range(n)]),
        name=texts(["某某"] * n),
        birth_date=dates("born"),
        sex=texts(["male"] * n),
        hukou_district=texts([r.get("district", LUOHU) for r in rows]),
        hukou_since=dates("since"),
        alive=np.array([r.get("alive", True) for r in rows], dtype=np.bool_),
        household_id=texts(["H0001"] * n),
        mobile=texts(["13800000000"] * n),
        next_cursor=None,
    )


def decided(item: ProactiveItem, page: ExportPage, today: date) -> dict[int, tuple[str, date]]:
    found = candidates(item, page, today)
    return {int(c.id_number[1:]): (c.reason.value, c.eligible_from) for c in found}


def test_housing_information_between_22_and_35_with_a_year_of_hukou() -> None:
    page = page_of(
        {"born": date(2004, 12, 3)},  # 0: 22 today
        {"born": date(2004, 12, 20)},  # 1: 22 in 17 days
        {"born": date(2005, 1, 3)},  # 2: 22 the day after the horizon
        {"born": date(1990, 12, 4)},  # 3: 35, 36 tomorrow
        {"born": date(1990, 12, 3)},  # 4: 36 today
        {"born": date(1995, 6, 1), "since": date(2025, 12, 15)},  # 5: 12 months this month
        {"born": date(1995, 6, 1), "since": date(2026, 1, 10)},  # 6: 12 months on 1 January
        {"born": date(1995, 6, 1), "since": date(2026, 2, 1)},  # 7: 12 months too late
        {"born": date(1995, 6, 1), "district": "440304"},  # 8: another district
        {"born": date(1995, 6, 1), "alive": False},  # 9: dead
        {"born": date(1990, 12, 20), "since": date(2026, 1, 10)},  # 10: 36 before the 12 months
    )
    assert decided(HOUSING, page, AS_OF) == {
        0: ("NOW", date(2026, 12, 3)),
        1: ("UPCOMING", date(2026, 12, 20)),
        3: ("NOW", date(2012, 12, 4)),
        5: ("NOW", date(2026, 12, 1)),
        6: ("UPCOMING", date(2027, 1, 1)),
    }
    periods = {c.id_number: c.period for c in candidates(HOUSING, page, AS_OF)}
    assert periods == {"P000": "2026", "P001": "2026", "P003": "2026", "P005": "2026",
                       "P006": "2027"}  # fmt: skip


def test_a_29_february_birthday_is_reached_on_1_march_in_a_common_year() -> None:
    page = page_of({"born": date(1956, 2, 29)}, {"born": date(1956, 3, 1)})
    assert decided(ELDERLY, page, date(2026, 2, 27)) == {
        0: ("UPCOMING", date(2026, 3, 1)),
        1: ("UPCOMING", date(2026, 3, 1)),
    }
    assert decided(ELDERLY, page, date(2026, 3, 1)) == {
        0: ("NOW", date(2026, 3, 1)),
        1: ("NOW", date(2026, 3, 1)),
    }


def test_a_yearly_offer_for_next_january_is_next_years() -> None:
    page = page_of({"born": date(1967, 1, 5)}, {"born": date(1950, 1, 1)})
    found = candidates(PROACTIVE["home_care"], page, date(2026, 12, 20))
    assert [(c.reason, c.period) for c in found] == [
        (Reason.UPCOMING, "2027"),
        (Reason.NOW, "2026"),
    ]
    assert all(c.mobile == "13800000000" for c in found)
    assert candidates(ELDERLY, page_of(), AS_OF) == []
