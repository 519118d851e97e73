"""The eligibility scan: one proactive item over the whole registry, page by page.

``scan`` pages through the registry's bulk export over the item's birth-date window (the
hukou district filtered by the exchange), decides each page at once (``eligibility``) and hands
the page's candidates to a ``CandidateSink`` with the cursor after that page. The sink is the
scan's memory: a scan that stopped (a crash, a lost lease) resumes from the last cursor its
sink accepted, and yields only what comes after it. The next page is fetched while the sink
takes the current one. A cursor belongs to its query: resume with the ``today`` of the scan
that made it (another day is another window, refused as ``E_BAD_CURSOR``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from connectors.population.models import ExportPage
from hub.approvals.facts import LUOHU
from hub.offers import eligibility
from hub.offers.proactive import ProactiveItem, Thresholds

PAGE_SIZE = 5000


class Reason(StrEnum):
    UPCOMING = "UPCOMING"
    """Becomes eligible within the item's lead (on ``eligible_from``)."""
    NOW = "NOW"
    """Eligible today."""


@dataclass(frozen=True, slots=True)
class Candidate:
    """A resident to offer ``item`` to, for ``period``."""

    item: str
    id_number: str
    name: str
    mobile: str | None
    reason: Reason
    eligible_from: date
    period: str
    household_id: str | None = None
    """The registry household: its hub residents see (and may accept) the offer of a member
    who has no account of their own."""


class CandidateSink(Protocol):
    """Where a scan's candidates go (the offers store; ``MemorySink`` in tests)."""

    async def accept(self, candidates: list[Candidate], cursor: str | None) -> None:
        """One page's candidates; ``cursor`` continues the scan after this page (``None``: it
        was the last). Once this returns, a scan resumed from ``cursor`` does not yield
        them again."""


@dataclass
class MemorySink:
    """Keeps every candidate and cursor in memory."""

    candidates: list[Candidate] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)

    async def accept(self, candidates: list[Candidate], cursor: str | None) -> None:
        self.candidates.extend(candidates)
        self.cursors.append(cursor)


class PopulationExport(Protocol):
    """The registry's bulk export (``PopulationConnector.export``)."""

    async def export(
        self,
        *,
        purpose: str,
        born_from: date,
        born_to: date,
        hukou_district: str | None,
        cursor: str | None,
        size: int,
    ) -> ExportPage: ...


@dataclass(frozen=True)
class ScanResult:
    item: str
    pages: int
    persons: int
    """Registry rows read (in the window and the district)."""
    candidates: int
    cursor: str | None
    """The cursor after the last page read: ``None`` once the scan reached the end."""


def candidates(
    item: ProactiveItem, page: ExportPage, today: date, limits: Thresholds | None = None
) -> list[Candidate]:
    """The page's candidates for ``item`` on ``today``, in the page's order."""
    limits = limits or item.thresholds(today)
    verdicts = eligibility.evaluate(page, today=today, horizon=item.horizon(today), limits=limits)
    rows = (verdicts.now | verdicts.upcoming).nonzero()[0]
    starts: list[date] = verdicts.eligible_from[rows].tolist()
    return [
        Candidate(
            item.code,
            id_number,
            name,
            mobile or None,
            Reason.NOW if now else Reason.UPCOMING,
            start,
            item.period(max(start, today)),
            household or None,
        )
        for id_number, name, mobile, now, start, household in zip(
            page.id_number[rows].tolist(),
            page.name[rows].tolist(),
            page.mobile[rows].tolist(),
            verdicts.now[rows].tolist(),
            starts,
            page.household_id[rows].tolist(),
            strict=True,
        )
    ]


async def scan(
    item: ProactiveItem,
    *,
    population: PopulationExport,
    today: date,
    sink: CandidateSink,
    resume_from: str | None = None,
    progress: Callable[[int], None] | None = None,
    page_size: int = PAGE_SIZE,
) -> ScanResult:
    """Scan the registry for ``item`` on ``today``, from ``resume_from`` (a cursor a sink
    accepted) or from the start; ``progress`` gets the number of rows read after each page."""
    born_from, born_to = item.window(today)
    limits = item.thresholds(today)

    async def fetch(cursor: str | None) -> ExportPage:
        return await population.export(
            purpose=item.impl_code,
            born_from=born_from,
            born_to=born_to,
            hukou_district=LUOHU,
            cursor=cursor,
            size=page_size,
        )

    pages = persons = found = 0
    cursor = resume_from
    following: asyncio.Task[ExportPage] | None = asyncio.ensure_future(fetch(cursor))
    try:
        while following is not None:
            page = await following
            cursor = page.next_cursor
            following = asyncio.ensure_future(fetch(cursor)) if cursor is not None else None
            chosen = candidates(item, page, today, limits)
            await sink.accept(chosen, cursor)
            pages, persons, found = pages + 1, persons + len(page), found + len(chosen)
            if progress is not None:
                progress(persons)
    finally:
        if following is not None:  # the sink or the progress failed: drop the next page
            following.cancel()
            await asyncio.wait([following])
            if not following.cancelled():
                following.exception()  # retrieved: its failure is not the scan's
    return ScanResult(item.code, pages, persons, found, cursor)
