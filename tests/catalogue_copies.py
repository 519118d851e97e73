"""Helpers for the catalogue copy's tests: a catalogue mock of their own, databases, copies."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import Engine

from connectors.base import DepartmentPolicy
from connectors.catalogue import CatalogueConnector
from hub.catalogue import CatalogueCopy, SyncSettings
from hub.settings import DEV_DEPARTMENTS
from hub.store.db import Database, create_tables, drop_tables, make_engine
from mocks.common.launcher import MockSpec
from tests.support import MockAdmin

SPEC = MockSpec("catalogue", 0, "mocks.catalogue:create_app")
PAGES = "GET /api/items"
CHANGES = "GET /api/changes"
TOTAL = 1201
DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])


def database_url(kind: str, folder: Path) -> str:
    return (
        f"sqlite:///{folder / 'hub.db'}"
        if kind == "sqlite"
        else os.environ["HUB_TEST_DATABASE_URL"]
    )


def fresh_engine(url: str) -> Engine:
    """The hub's tables, empty."""
    engine = make_engine(url)
    drop_tables(engine)
    create_tables(engine)
    return engine


def engine_for(kind: str, folder: Path) -> Iterator[Engine]:
    engine = fresh_engine(database_url(kind, folder))
    yield engine
    drop_tables(engine)
    engine.dispose()


def change_upstream(catalogue: MockAdmin, impl_code: str, **fields: object) -> dict[str, Any]:
    """The mock's admin route: edit an item (its ``updated_at`` becomes now)."""
    response = httpx.post(f"{catalogue.url}/__admin/items/{impl_code}", json=fields)
    return dict(response.raise_for_status().json())


def policy(url: str) -> DepartmentPolicy:
    return DepartmentPolicy(
        base_url=url,
        timeout_s=5.0,
        max_retries=0,
        credentials=dict(DEV_DEPARTMENTS["catalogue"][1]),
    )


@asynccontextmanager
async def copy_of(
    catalogue: MockAdmin, engine: Engine, *, owner: str | None = None, **settings: Any
) -> AsyncIterator[CatalogueCopy]:
    """A copy on ``engine`` reading ``catalogue``; stopped (lease released) at the end."""
    async with aiohttp.ClientSession() as session:
        connector = CatalogueConnector(session, policy(catalogue.url))
        sync = replace(SyncSettings(refresh_s=3600.0, start_wait_s=30.0), **settings)
        copy = CatalogueCopy(lambda: connector, Database(engine), sync, owner=owner)
        try:
            yield copy
        finally:
            await copy.stop()
