"""Filling and refreshing the database copy from the catalogue: the one place that calls it.

One ``tick`` at a time per process, and one process at a time per database: a tick first takes
(or renews) the lease row; a process without it does nothing upstream and only reads what the
holder wrote. A tick with the lease does, in order:

1. a full sync (``all_items``: ⌈N/100⌉ page calls) when the copy has none yet, or its last one
   is older than ``full_sync_s``; its cursor is the time it began, less ``clock_skew_s``, so the
   next changes call sees everything changed while it ran (seen twice is harmless);
2. otherwise one ``changes_since(cursor)`` call; the cursor moves to the answer's ``until``;
3. when due (``guides_refresh_s``), scenarios with each guide, public services, disclosures.

The rows it writes carry their search terms (``hub.catalogue.analysis``: a child process
computes them for the rows whose payload changed), and the base vocabulary when the database
has none of this version; rows found without terms of this version (an older database) get
them too, ``BACKFILL`` a tick. A child that fails is logged, the rows are written without
terms (each loader then computes its own) and the next tick tries again.

Everything is written in one transaction per step, so a stop anywhere resumes from the last
cursor written. A failure is recorded (``catalogue_sync.last_error``) and the tick returns
``failed``; reads keep answering from the copy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from sqlmodel import Session

from connectors.catalogue import CatalogueConnector
from connectors.catalogue.client import PageProgress
from connectors.catalogue.models import Item
from connectors.errors import ConnectorError
from hub.catalogue import analysis, codec
from hub.settings import Settings
from hub.store import catalogue as store
from hub.store.db import Database

logger = logging.getLogger("ihub.catalogue")

Outcome = Literal["full", "changes", "follower", "failed"]
BACKFILL = analysis.MAX_ITEMS
"""Rows without terms of this version given terms in one tick, at most."""


@dataclass(frozen=True)
class SyncSettings:
    """How the copy is kept (``HUB_CATALOGUE_*`` settings, see ``hub.settings``)."""

    refresh_s: float = 60.0
    guides_refresh_s: float = 3600.0
    full_sync_s: float = 86400.0
    lease_s: float = 180.0
    start_wait_s: float = 10.0
    clock_skew_s: float = 300.0


def sync_settings(settings: Settings) -> SyncSettings:
    return SyncSettings(
        refresh_s=settings.catalogue_refresh_s,
        guides_refresh_s=settings.catalogue_guides_refresh_s,
        full_sync_s=settings.catalogue_full_sync_s,
        lease_s=settings.catalogue_lease_s,
        start_wait_s=settings.catalogue_start_wait_s,
    )


class SyncObserver(Protocol):
    def catalogue_sync(self, kind: str, outcome: str, seconds: float) -> None:
        """A sync step (``full``, ``changes``, ``guides``, ``terms``) ended ``ok`` or ``error``."""


def now() -> datetime:
    return datetime.now(UTC)


class CatalogueSync:
    """The refresher: lease, full sync or changes, guides; see the module's docstring."""

    def __init__(
        self,
        connector: Callable[[], CatalogueConnector],
        database: Database,
        settings: SyncSettings,
        *,
        owner: str,
        observer: SyncObserver | None = None,
    ) -> None:
        self._connector = connector
        self._database = database
        self._settings = settings
        self.owner = owner
        self._observer = observer
        self._lock = asyncio.Lock()
        self.leader = False
        self.last_error: ConnectorError | None = None

    async def tick(self, progress: PageProgress | None = None, *, full: bool = False) -> Outcome:
        """One refresh if this process holds (or can take) the lease; ``full`` forces a full
        sync (``ihub catalogue sync``)."""
        async with self._lock:
            started = now()
            ttl = self._settings.lease_s
            self.leader = await self._database.run(
                lambda s: store.take_lease(s, self.owner, now=started, ttl_s=ttl)
            )
            if not self.leader:
                return "follower"
            state = await self._database.run(store.read_state)
            outcome: Outcome = "changes"
            try:
                if full or self._full_due(state, started):
                    outcome = "full"
                    await self._step("full", self._full(started, progress))
                else:
                    assert state.changes_until is not None
                    await self._step("changes", self._changes(state.changes_until, started))
                due = state.guides_synced_at is None or started - state.guides_synced_at > (
                    timedelta(seconds=self._settings.guides_refresh_s)
                )
                if due:
                    await self._step("guides", self._guides(started))
                await self._step("terms", self._backfill())
            except ConnectorError as exc:
                self.last_error = exc
                logger.warning("catalogue refresh failed, reads answer from the copy: %s", exc)
                detail = f"{type(exc).__name__}: {exc}"
                await self._database.run(lambda s: store.record_error(s, detail, at=now()))
                return "failed"
            self.last_error = None
            return outcome

    async def release(self) -> None:
        await self._database.run(lambda s: store.release_lease(s, self.owner))
        self.leader = False

    def _full_due(self, state: store.SyncState, at: datetime) -> bool:
        if state.changes_until is None or state.full_synced_at is None:
            return True
        return at - state.full_synced_at > timedelta(seconds=self._settings.full_sync_s)

    async def _step(self, kind: str, work: Awaitable[None]) -> None:
        """Run one step, timed and counted by kind and outcome (``/metrics``)."""
        started = time.perf_counter()
        outcome = "error"
        try:
            await work
            outcome = "ok"
        finally:
            if self._observer is not None:
                self._observer.catalogue_sync(kind, outcome, time.perf_counter() - started)

    async def _full(self, started: datetime, progress: PageProgress | None) -> None:
        items = await self._connector().all_items(progress)
        rows, base = await self._with_terms(items, full=True)
        cursor = started - timedelta(seconds=self._settings.clock_skew_s)
        changed = await self._database.run(
            lambda s: store.write_items(
                s, rows, full=True, changes_until=cursor, at=now(), analysis=base
            )
        )
        logger.info("catalogue full sync: %d items, %d rows changed", len(rows), changed)

    async def _changes(self, since: datetime, started: datetime) -> None:
        changes = await self._connector().changes_since(since)
        rows, base = await self._with_terms(changes.items, full=False)
        await self._database.run(
            lambda s: store.write_items(
                s, rows, full=False, changes_until=changes.until, at=now(), analysis=base
            )
        )

    async def _with_terms(
        self, items: Sequence[Item], *, full: bool
    ) -> tuple[list[store.ItemRow], str | None]:
        """The rows of ``items``, with terms for the active ones whose stored terms are not of
        this payload and version; the base vocabulary if the database has none of this
        version."""
        rows = [codec.item_row(item) for item in items]
        codes = None if full else [row.impl_code for row in rows]
        version = analysis.VERSION

        def read(session: Session) -> tuple[dict[str, str], str | None]:
            return store.current_terms(session, version, codes), store.read_analysis(session)

        current, stored_base = await self._database.run(read)
        wanted = [  # a withdrawn item is in no index: its terms wait until it is back
            n
            for n, row in enumerate(rows)
            if row.status == "active" and current.get(row.impl_code) != row.payload
        ]
        need_base = analysis.decode_base(stored_base) is None
        if not wanted and not need_base:
            return rows, None
        try:
            computed = await analysis.compute([items[n] for n in wanted], base=need_base)
        except analysis.AnalysisError as exc:
            logger.error(
                "catalogue terms: %d rows written without search terms (each replica's "
                "loader computes them; the next tick tries again): %s",
                len(wanted),
                exc,
            )
            return rows, None
        for n in wanted:
            found = computed.items[rows[n].impl_code]
            rows[n] = replace(rows[n], terms=analysis.encode_item(found), terms_version=version)
        base = None if computed.base is None else analysis.encode_base(computed.base)
        return rows, base

    async def _backfill(self) -> None:
        """Terms for rows that have none of this version (written before, or while the
        child failed), and the base vocabulary if the database lacks it."""
        version = analysis.VERSION

        def read(session: Session) -> tuple[list[store.CatalogueItem], str | None]:
            return store.stale_terms(session, version, BACKFILL), store.read_analysis(session)

        stale, stored_base = await self._database.run(read)
        need_base = analysis.decode_base(stored_base) is None
        if not stale and not need_base:
            return
        items = [codec.item(row.payload) for row in stale]
        try:
            computed = await analysis.compute(items, base=need_base)
        except analysis.AnalysisError as exc:
            logger.error(
                "catalogue terms: %d rows still without search terms (the next tick tries "
                "again): %s",
                len(stale),
                exc,
            )
            return
        terms = [
            (row.impl_code, row.revision, analysis.encode_item(computed.items[row.impl_code]))
            for row in stale
        ]
        base = computed.base

        def write(session: Session) -> int:
            stored = store.write_terms(session, terms, version)
            if base is not None:
                store.write_analysis(session, analysis.encode_base(base))
            return stored

        stored = await self._database.run(write)
        if stale:
            logger.info("catalogue terms: %d rows given search terms", stored)

    async def _guides(self, started: datetime) -> None:
        connector = self._connector()
        summaries, services, disclosures = await asyncio.gather(
            connector.scenarios(), connector.public_services(), connector.disclosures()
        )
        details = await asyncio.gather(*(connector.scenario(s.id) for s in summaries))
        rows: list[tuple[str, str, str]] = [
            (codec.GUIDE_SUMMARY, s.id, codec.dumps(s)) for s in summaries
        ]
        rows += [(codec.GUIDE_SCENARIO, d.id, codec.dumps(d)) for d in details if d is not None]
        rows += [(codec.GUIDE_SERVICE, p.id, codec.dumps(p)) for p in services]
        rows += [(codec.GUIDE_DISCLOSURE, d.id, codec.dumps(d)) for d in disclosures]
        await self._database.run(lambda s: store.write_guides(s, rows, at=now()))
