"""``ihub offers scan ITEM`` and ``ihub offers status``.

``scan`` runs one proactive item's scan for today under the run's lease, as a hub does (while
a hub holds it, the command says so and exits 1; a run stopped part-way is resumed from its
cursor), with a progress bar on a terminal. It stores the offers; a running hub sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Never

import aiohttp
from tqdm import tqdm

from connectors.population import PopulationConnector
from hub.offers.clock import real_clock
from hub.offers.proactive import PROACTIVE
from hub.offers.scheduler import Scanner
from hub.offers.store import OfferStore
from hub.settings import Settings
from hub.store.db import Database, create_tables, make_engine


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    offers = commands.add_parser("offers", help="主动推送: the proactive scans and their offers")
    actions = offers.add_subparsers(dest="action", required=True)
    scan = actions.add_parser("scan", help="scan one proactive item for today")
    scan.add_argument("item", choices=sorted(PROACTIVE), help="the proactive item")
    actions.add_parser("status", help="each item's last run and open deliveries")


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "scan":
        return asyncio.run(_scan(settings, args.item))
    return asyncio.run(_status(settings))


async def _scan(settings: Settings, code: str) -> int:
    engine = make_engine(settings.database_url)
    store = OfferStore(Database(engine))
    clock = settings.offers_clock or real_clock
    bar: tqdm[Never] = tqdm(unit=" persons", desc=f"scan {code}", disable=None)

    def progress(persons: int) -> None:
        bar.update(persons - bar.n)

    started = time.perf_counter()
    try:
        await asyncio.to_thread(create_tables, engine)
        async with aiohttp.ClientSession(headers={"User-Agent": "ihub/0.1"}) as session:
            population = PopulationConnector(session, settings.departments["population"])
            scanner = Scanner(
                store, {"population": population}, clock=clock, count=lambda *_: None,
                lease_s=settings.offers_lease_s, page_size=settings.offers_page_size,
            )  # fmt: skip
            result = await scanner.scan_item(code, progress=progress)
    finally:
        bar.close()
        engine.dispose()
    if result is None:
        print(f"ihub: {code} is being scanned by another process, or done today", file=sys.stderr)
        return 1
    print(
        f"{code}: {result.persons} persons in {result.pages} pages, {result.candidates} "
        f"candidates in {time.perf_counter() - started:.1f} s"
    )
    return 0


async def _status(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    store = OfferStore(Database(engine))
    try:
        await asyncio.to_thread(create_tables, engine)
        runs = {run.item_code: run for run in await store.runs()}
        pending = await store.pending()
    finally:
        engine.dispose()
    for code in PROACTIVE:
        run = runs.get(code)
        if run is None:
            last = "never scanned"
        else:
            state = f"finished {run.finished_at:%Y-%m-%d %H:%M}" if run.finished_at else "stopped"
            last = f"{run.day} {state}: {run.persons} persons, {run.candidates} candidates"
        print(f"{code:<18} {last}; {pending.get(code, 0)} deliveries open")
    return 0
