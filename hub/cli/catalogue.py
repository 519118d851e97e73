"""``ihub catalogue sync``: one full sync of the catalogue copy, with a progress bar on a terminal.

It takes the refresh lease like a hub does: while a running hub holds it, the command says
which and exits 1 (the hub is keeping the copy fresh; run it again once that hub is stopped,
or wait ``HUB_CATALOGUE_LEASE_S``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Never

import aiohttp
from tqdm import tqdm

from connectors.catalogue import CatalogueConnector
from hub.catalogue import CatalogueCopy, sync_settings
from hub.settings import Settings
from hub.store import catalogue as store
from hub.store.db import Database, create_tables, make_engine


def add_arguments(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    catalogue = commands.add_parser("catalogue", help="the hub's copy of the service catalogue")
    catalogue.add_argument("action", choices=["sync"], help="one full sync from the catalogue")


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(_sync(settings))


async def _sync(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    database = Database(engine)
    bars: list[tqdm[Never]] = []

    def progress(done: int, pages: int) -> None:
        if not bars:  # disable=None: drawn only on a terminal
            bars.append(tqdm(total=pages, unit="page", desc="catalogue items", disable=None))
        bars[0].update(done - bars[0].n)

    started = time.perf_counter()
    try:
        await asyncio.to_thread(create_tables, engine)
        async with aiohttp.ClientSession(headers={"User-Agent": "ihub/0.1"}) as session:
            connector = CatalogueConnector(session, settings.departments["catalogue"])
            copy = CatalogueCopy(lambda: connector, database, sync_settings(settings))
            outcome = await copy.refresh(progress, full=True)
            if copy.sync.leader:
                await copy.sync.release()
    finally:
        for bar in bars:
            bar.close()
    try:
        if outcome == "follower":
            holder = await database.run(store.lease_holder)
            who = f"{holder[0]} until {holder[1]:%H:%M:%S} UTC" if holder else "another process"
            print(f"ihub: the catalogue copy is being refreshed by {who}", file=sys.stderr)
            return 1
        if outcome == "failed":
            print(f"ihub: catalogue sync failed: {copy.sync.last_error}", file=sys.stderr)
            return 1
        status = copy.status()
        print(
            f"catalogue synced: {status['items']} items, "
            f"{len(await copy.scenarios())} scenarios, "
            f"{len(await copy.public_services())} public services, "
            f"{len(await copy.disclosures())} disclosures "
            f"in {time.perf_counter() - started:.1f} s"
        )
        return 0
    finally:
        engine.dispose()
