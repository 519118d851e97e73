"""Running the offers: the scan under a database lease, and the background rounds.

- ``Scanner.scan_item`` takes the run of an item for today (``offer_scan``, one row per item
  and day) under a lease: with several replicas (or a CLI run beside a server) exactly one
  scans; each accepted page renews the lease and stores the cursor with the page's offers
  (``OfferStore.accept_page``), so a scanner that stops — a crash, a lost lease — is resumed
  from its last page by the next one to take the lease, without re-offering anyone.
- ``OfferRounds`` runs in the Starlette lifespan: the scan of every proactive item every
  ``scan_s`` (0: never), and every ``dispatch_s``: the offers whose time is up stored
  EXPIRED, one filing round, the final messages of the review cases decided since
  (``Acceptance.queue_finals``) and one dispatcher batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, cast

from connectors.base import Connector
from connectors.population import PopulationConnector
from hub.offers.acceptance import Acceptance
from hub.offers.clock import Clock, shanghai_day
from hub.offers.dispatcher import Count, Dispatcher
from hub.offers.proactive import PROACTIVE
from hub.offers.scan import PAGE_SIZE, Candidate, ScanResult, scan
from hub.offers.store import OfferStore

logger = logging.getLogger("ihub.offers")


class LeasedSink:
    """The scan's ``CandidateSink`` for one leased run: a page and its cursor in one commit."""

    def __init__(self, scanner: Scanner, run: str) -> None:
        self._scanner = scanner
        self._run = run
        self.persons_seen = 0
        self.reported = 0

    async def accept(self, candidates: list[Candidate], cursor: str | None) -> None:
        s = self._scanner
        made = await s.store.accept_page(
            self._run, s.holder, candidates, cursor, self.persons_seen - self.reported,
            s.clock(), s.lease_s,
        )  # fmt: skip
        self.reported = self.persons_seen
        for offer in made:
            for channel in PROACTIVE[offer.item_code].channels:
                s.count(offer.item_code, channel.value, "offered")


class Scanner:
    """Scans proactive items under the run lease; ``running`` holds live progress."""

    def __init__(
        self,
        store: OfferStore,
        connectors: Mapping[str, Connector],
        *,
        clock: Clock,
        count: Count,
        lease_s: float = 120.0,
        page_size: int = PAGE_SIZE,
        holder: str | None = None,
    ) -> None:
        self.store = store
        self._connectors = connectors
        self.clock = clock
        self.count = count
        self.lease_s = lease_s
        self.page_size = page_size
        self.holder = holder or uuid.uuid4().hex[:16]
        self.running: dict[str, dict[str, Any]] = {}

    async def scan_item(
        self, code: str, *, progress: Callable[[int], None] | None = None
    ) -> ScanResult | None:
        """Scan ``code`` for today if no other scanner holds its run and it is not done yet
        (``None`` then); resumes from the run's stored cursor."""
        item = PROACTIVE[code]
        now = self.clock()
        day = shanghai_day(now)
        run = await self.store.take_lease(code, day, self.holder, now, self.lease_s)
        if run is None:
            return None
        sink = LeasedSink(self, run.id)
        live = self.running[code] = {
            "since": now.isoformat(), "persons": 0, "resumed": run.cursor is not None,
        }  # fmt: skip

        def seen(persons: int) -> None:
            # called after the sink took the page: the page's rows go with the next page's
            # commit, and the scan's own total is kept exactly by ``ScanResult``
            sink.persons_seen = persons
            live["persons"] = persons
            if progress is not None:
                progress(persons)

        population = cast(PopulationConnector, self._connectors["population"])
        try:
            result = await scan(
                item, population=population, today=day, sink=sink, resume_from=run.cursor,
                progress=seen, page_size=self.page_size,
            )  # fmt: skip
            await self.store.add_persons(run.id, result.persons - sink.reported)
        finally:
            self.running.pop(code, None)
            await self.store.release_lease(run.id, self.holder)
        logger.info(
            "offers scan %s: %d pages, %d persons, %d candidates",
            code, result.pages, result.persons, result.candidates,
        )  # fmt: skip
        return result


class OfferRounds:
    """The background work of one process: scans on a schedule, dispatching, filing."""

    def __init__(
        self,
        scanner: Scanner,
        dispatcher: Dispatcher,
        acceptance: Acceptance,
        *,
        scan_s: float,
        dispatch_s: float,
        items: tuple[str, ...] | None = None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.scanner = scanner
        self.dispatcher = dispatcher
        self.acceptance = acceptance
        self._scan_s = scan_s
        self._dispatch_s = dispatch_s
        self.items = items or tuple(PROACTIVE)
        self._ready = ready
        self._tasks: list[asyncio.Task[None]] = []
        self.last_scan: datetime | None = None

    def start(self) -> None:
        if self._dispatch_s > 0:
            self._tasks.append(asyncio.create_task(self._every(self._dispatch_s, self.tick)))
        if self._scan_s > 0:
            self._tasks.append(asyncio.create_task(self._every(self._scan_s, self.scan_all)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def tick(self) -> None:
        """Expiry, one filing round, the outcomes of review cases decided since, one
        dispatcher batch."""
        await self.scanner.store.expire(self.scanner.clock())
        await self.acceptance.file_due()
        await self.acceptance.queue_finals()
        await self.dispatcher.run_once()

    async def scan_all(self) -> None:
        self.last_scan = self.scanner.clock()
        for code in self.items:
            await self.scanner.scan_item(code)

    async def status(self) -> dict[str, Any]:
        """``/status``'s ``offers``: per item its last run, live progress, open deliveries."""
        try:
            runs = {run.item_code: run for run in await self.scanner.store.runs()}
            pending = await self.scanner.store.pending()
        except Exception as exc:  # /status must answer when the database does not
            logger.warning("offers status: database unreachable (%s)", type(exc).__name__)
            return {"status": "unavailable"}
        items: dict[str, Any] = {}
        for code in PROACTIVE:
            run = runs.get(code)
            items[code] = {
                "lastRun": None if run is None else {
                    "day": run.day.isoformat(), "startedAt": run.started_at.isoformat(),
                    "finishedAt": run.finished_at.isoformat() if run.finished_at else None,
                    "pages": run.pages, "persons": run.persons, "candidates": run.candidates,
                },
                "running": self.scanner.running.get(code),
                "pendingDeliveries": pending.get(code, 0),
            }  # fmt: skip
        return {"scanEveryS": self._scan_s, "dispatchEveryS": self._dispatch_s, "items": items}

    async def _every(self, interval_s: float, work: Callable[[], Any]) -> None:
        while True:
            if not self._ready():  # no database yet: nothing to send or scan into
                await asyncio.sleep(min(interval_s, 1.0))
                continue
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("offers round failed; the next one tries again")
            await asyncio.sleep(interval_s)
