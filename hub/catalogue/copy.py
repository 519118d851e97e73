"""``CatalogueCopy``: the catalogue as the hub holds it (``schema.context.ServiceCatalogue``).

The copy of record is in the hub's database (``hub.store.catalogue``), filled and refreshed by
``CatalogueSync`` in the background (``start``); each process reads it into memory — active
items, their order, counts, the guides — and into its search index (``hub.catalogue.index``),
and after every tick loads only the rows written since (``revision``), whoever wrote them. So
reads never call the catalogue, and every replica follows the one that holds the lease.

The rows come with their search terms and vocabulary (``hub.catalogue.analysis``), which go
into the index and the query analyzer as they are; rows without terms of this version (an
older database, a child that failed at the lease holder) get them from the terms child
process here. If that fails, the batch is not taken (logged) and the next load reads it again.

A read before anything is loaded waits for the first load (from the database, or the first
fill) at most ``start_wait_s``, then answers with what there is. Once a refresh has failed,
reads record a stale serve (``extensions.degraded``) until one succeeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import jieba
from sqlmodel import Session

from connectors.catalogue import CatalogueConnector
from connectors.catalogue.client import PageProgress
from connectors.catalogue.models import (
    Disclosure,
    Item,
    PublicService,
    Scenario,
    ScenarioSummary,
)
from connectors.degradation import StaleServe, record_stale
from connectors.errors import ConnectorError, UpstreamTimeout, UpstreamUnavailable
from hub.catalogue import analysis, codec
from hub.catalogue.index import SearchIndex, shared_analyzer
from hub.catalogue.sync import CatalogueSync, Outcome, SyncObserver, SyncSettings, now
from hub.catalogue.text import Analyzer
from hub.store import catalogue as store
from hub.store.db import Database
from schema.context import (
    CatalogueCounts,
    CatalogueFreshness,
    ItemFilter,
    ItemHit,
    ItemResults,
)

logger = logging.getLogger("ihub.catalogue")
DEPARTMENT = "catalogue"


@dataclass(frozen=True)
class Guides:
    summaries: tuple[ScenarioSummary, ...] = ()
    scenarios: Mapping[str, Scenario] = field(default_factory=dict)
    services: tuple[PublicService, ...] = ()
    disclosures: tuple[Disclosure, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """The active items in catalogue order, by code, counted; replaced whole, never edited."""

    items: Mapping[str, Item]
    positions: Mapping[str, int]
    order: tuple[str, ...]
    by_local: Mapping[str, str]
    counts: CatalogueCounts
    by_name: Mapping[str, str] = field(default_factory=dict)
    """The first active item (catalogue order) of each name: how a 秒批 rule finds its item."""

    @classmethod
    def of(cls, items: Mapping[str, Item], positions: Mapping[str, int]) -> Snapshot:
        order = tuple(sorted(items, key=lambda code: (positions[code], code)))
        stages = Counter(stage for item in items.values() for stage in item.life_stages)
        groups = Counter(group for item in items.values() for group in item.groups)
        depts: dict[str, tuple[str, int]] = {}
        for code in order:
            item = items[code]
            name, count = depts.get(item.dept_code, (item.dept_name, 0))
            depts[item.dept_code] = (name, count + 1)
        counts = CatalogueCounts(dict(stages), dict(groups), depts, len(items))
        by_local = {items[code].local_code: code for code in order}
        by_name: dict[str, str] = {}
        for code in order:
            by_name.setdefault(items[code].name, code)
        return cls(items, positions, order, by_local, counts, by_name)


EMPTY = Snapshot.of({}, {})


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CatalogueCopy:
    """The hub's copy of the catalogue: reads from memory, refreshed from the database."""

    def __init__(
        self,
        connector: Callable[[], CatalogueConnector],
        database: Database,
        settings: SyncSettings | None = None,
        *,
        owner: str | None = None,
        observer: SyncObserver | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.settings = settings or SyncSettings()
        self.sync = CatalogueSync(
            connector, database, self.settings, owner=owner or default_owner(), observer=observer
        )
        self._database = database
        self._analyzer = analyzer or shared_analyzer()
        self._index = SearchIndex(self._analyzer)
        self._snapshot = EMPTY
        self._guides = Guides()
        self._revision = 0
        self._guides_revision = 0
        self.state = store.SyncState()
        self._loaded = asyncio.Event()
        self._load_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.last_outcome: Outcome | None = None
        self.refreshed = asyncio.Event()
        """Set once a refresh has ended (for whoever waits for the first one)."""
        self.index_build_s: float | None = None
        self._base: analysis.Base | None = None
        self.computed_terms = 0
        """Items whose terms this process computed itself (the rows had none of its version)."""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Load from the database and keep refreshing, in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="catalogue-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.sync.leader:
            with contextlib.suppress(Exception):
                await self.sync.release()

    async def _run(self) -> None:
        try:
            await self.load()
        except Exception:
            logger.exception("catalogue copy: the database could not be read")
        while True:
            try:
                await self.refresh()
            except Exception:
                logger.exception("catalogue copy: refresh failed")
            self._loaded.set()  # answered or failed: readers stop waiting either way
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.refresh_s)

    async def refresh(self, progress: PageProgress | None = None, *, full: bool = False) -> Outcome:
        """One tick of the sync (if this process holds the lease), then load what it wrote."""
        self.last_outcome = await self.sync.tick(progress, full=full)
        await self.load()
        self.refreshed.set()
        return self.last_outcome

    async def load(self) -> None:
        """Take into memory and the index what the database has that this process has not."""
        async with self._load_lock:
            seen = self._revision

            def read(session: Session) -> tuple[store.SyncState, list[store.CatalogueItem]]:
                return store.read_state(session), store.items_since(session, seen)

            state, rows = await self._database.run(read)
            if rows:
                try:
                    await self._apply(rows)
                except analysis.AnalysisError as exc:
                    logger.error(
                        "catalogue copy: %d rows not taken, their search terms could not be "
                        "computed (the next load reads them again): %s",
                        len(rows),
                        exc,
                    )
                    return
                del rows  # the rows' JSON is garbage now: hand its pages back
                await asyncio.to_thread(release_freed_memory)
            if state.guides_revision != self._guides_revision:
                self._guides = await self._database.run(_read_guides)
                self._guides_revision = state.guides_revision
            self._revision = max(self._revision, state.revision)
            self.state = state
            if self._snapshot.items or state.revision:
                self._loaded.set()

    async def _apply(self, rows: Iterable[store.CatalogueItem]) -> None:
        items = dict(self._snapshot.items)
        positions = dict(self._snapshot.positions)
        upserts: list[tuple[Item, analysis.ItemAnalysis | None]] = []
        removals = []
        for row in rows:
            if row.status == "active":
                item = codec.item(row.payload)
                items[row.impl_code] = item
                positions[row.impl_code] = row.position
                upserts.append((item, analysis.decode_item(row.terms, row.terms_version)))
            elif row.impl_code in items:
                del items[row.impl_code]
                removals.append(row.impl_code)
        started = asyncio.get_running_loop().time()
        base = self._base or analysis.decode_base(await self._database.run(store.read_analysis))
        missing = [item for item, found in upserts if found is None]
        if missing or base is None:
            computed = await analysis.compute(missing, base=base is None)
            self.computed_terms += len(missing)
            base = base or computed.base
            upserts = [(item, found or computed.items[item.impl_code]) for item, found in upserts]
        assert base is not None
        vocabulary = dict(base.vocabulary) if self._base is None else {}
        for _, found in upserts:
            assert found is not None
            vocabulary.update(found.vocabulary)
        self._analyzer.learn(vocabulary, base.total)
        self._base = base
        terms = [(item, found.terms) for item, found in upserts if found is not None]
        await asyncio.to_thread(self._index.replace, terms, removals)
        if self.index_build_s is None:
            self.index_build_s = asyncio.get_running_loop().time() - started
        self._snapshot = Snapshot.of(items, positions)

    # -- reads (schema.context.ServiceCatalogue) -----------------------------------------

    async def _read(self) -> Snapshot:
        if not self._loaded.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._loaded.wait(), self.settings.start_wait_s)
        if not self._snapshot.items:
            # nothing to answer with yet: an empty catalogue would say "no such item" (a 404
            # page, an empty search) where the truth is "not known yet", so say that instead
            if self.freshness().stale:
                raise self._error()
            raise UpstreamTimeout(DEPARTMENT, "the catalogue copy is still being filled")
        if self.freshness().stale:
            record_stale(StaleServe(DEPARTMENT, self._age_s(), self._error()))
        elif not self._loaded.is_set():  # the first fill is slower than the wait: say so
            filling = UpstreamTimeout(DEPARTMENT, "the catalogue copy is still being filled")
            record_stale(StaleServe(DEPARTMENT, 0.0, filling))
        return self._snapshot

    async def items(self, where: ItemFilter, *, offset: int, limit: int) -> ItemResults:
        snapshot = await self._read()
        query = (where.query or "").strip()
        if query:
            hits = [
                ItemHit(snapshot.items[m.code], m.score, m.highlights)
                for m in self._index.search(query)
                if m.code in snapshot.items and _matches(snapshot.items[m.code], where)
            ]
            positions = snapshot.positions
            hits.sort(key=lambda hit: (-(hit.score or 0.0), positions[hit.item.impl_code]))
        else:
            hits = [
                ItemHit(snapshot.items[code])
                for code in snapshot.order
                if _matches(snapshot.items[code], where)
            ]
        return ItemResults(total=len(hits), hits=tuple(hits[offset : offset + limit]))

    async def item(self, code: str) -> Item | None:
        return (await self.items_by_codes([code])).get(code)

    async def items_by_codes(self, codes: Iterable[str]) -> Mapping[str, Item]:
        snapshot = await self._read()
        found = {}
        for code in codes:
            impl = code if code in snapshot.items else snapshot.by_local.get(code)
            if impl is not None:
                found[code] = snapshot.items[impl]
        return found

    async def item_named(self, name: str) -> Item | None:
        """The active item called exactly ``name`` (the first in catalogue order), or None."""
        snapshot = await self._read()
        code = snapshot.by_name.get(name)
        return snapshot.items[code] if code is not None else None

    async def counts(self) -> CatalogueCounts:
        return (await self._read()).counts

    async def scenarios(self) -> tuple[ScenarioSummary, ...]:
        await self._read()
        return self._guides.summaries

    async def scenario(self, scenario_id: str) -> Scenario | None:
        await self._read()
        return self._guides.scenarios.get(scenario_id)

    async def public_services(self) -> tuple[PublicService, ...]:
        await self._read()
        return self._guides.services

    async def disclosures(self, category: str | None = None) -> tuple[Disclosure, ...]:
        await self._read()
        return tuple(d for d in self._guides.disclosures if not category or d.category == category)

    def freshness(self) -> CatalogueFreshness:
        failed = self.last_outcome == "failed" or self.state.failing
        return CatalogueFreshness(synced_at=self.state.last_success_at, stale=failed)

    # -- what operators see ----------------------------------------------------------------

    def status(self) -> dict[str, object]:
        """For ``/status`` (and the gauges of ``/metrics``)."""
        state = self.state
        return {
            "items": len(self._snapshot.items),
            "indexed": len(self._index),
            "revision": self._revision,
            "stale": self.freshness().stale,
            "leader": self.sync.leader,
            "lastOutcome": self.last_outcome,
            "lastSuccessAt": _iso(state.last_success_at),
            "lastFullSyncAt": _iso(state.full_synced_at),
            "guidesSyncedAt": _iso(state.guides_synced_at),
            "changesUntil": _iso(state.changes_until),
            "lagSeconds": round(self._age_s(), 1) if state.last_success_at else None,
            "lastError": state.last_error if state.failing else None,
            "lastErrorAt": _iso(state.last_error_at),
            "refreshSeconds": self.settings.refresh_s,
            "indexBuildSeconds": None
            if self.index_build_s is None
            else round(self.index_build_s, 3),
            "analysis": {
                "version": analysis.VERSION,
                "vocabularyWords": self._analyzer.vocabulary_size(),
                "fullDictionary": self._analyzer.tokenizer is jieba.dt,
                "fullDictionaryLoaded": bool(jieba.dt.initialized),
                "termsComputedHere": self.computed_terms,
            },
        }

    def _age_s(self) -> float:
        synced = self.state.last_success_at
        return 0.0 if synced is None else max(0.0, (now() - synced).total_seconds())

    def _error(self) -> ConnectorError:
        if self.sync.last_error is not None:
            return self.sync.last_error
        return UpstreamUnavailable(DEPARTMENT, self.state.last_error or "refresh failed")


@functools.cache
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    return libc if libc is not None and hasattr(libc, "malloc_trim") else None


def release_freed_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's ``malloc_trim``; nothing
    elsewhere). A load reads every row's JSON and its terms on threads of the pool, whose
    malloc arenas keep what was freed: 1,201 rows left ~10 MB resident that nothing used."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")


def _read_guides(session: Session) -> Guides:
    rows = store.guides(session)
    by_kind: dict[str, list[str]] = {}
    for row in rows:
        by_kind.setdefault(row.kind, []).append(row.payload)
    scenarios = (codec.scenario(p) for p in by_kind.get(codec.GUIDE_SCENARIO, ()))
    return Guides(
        summaries=tuple(codec.summary(p) for p in by_kind.get(codec.GUIDE_SUMMARY, ())),
        scenarios={s.id: s for s in scenarios},
        services=tuple(codec.public_service(p) for p in by_kind.get(codec.GUIDE_SERVICE, ())),
        disclosures=tuple(codec.disclosure(p) for p in by_kind.get(codec.GUIDE_DISCLOSURE, ())),
    )


def _matches(item: Item, where: ItemFilter) -> bool:
    return (
        (where.life_stage is None or where.life_stage in item.life_stages)
        and (where.group is None or where.group in item.groups)
        and (where.department is None or where.department == item.dept_code)
        and (where.kind is None or where.kind == item.kind)
        and (where.instant is None or where.instant == item.instant)
        and (where.channel is None or where.channel in item.channels)
    )
