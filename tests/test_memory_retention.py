"""What a stopped mock or a dropped schema held is freed: one test process starts hundreds
of hubs and mocks, and what a library cache kept alive of each grew the heap by millions of
objects until the garbage collector's passes stalled every thread for seconds (and 5 s
upstream budgets ran out). Production builds one schema and serves one mock per process;
the caches must still not own them."""

from __future__ import annotations

import asyncio
import gc
import weakref

import aiohttp

from mocks.common.launcher import start_mocks
from mocks.library.circulation import Library
from mocks.registry import MOCKS
from schema import build_schema

INVALID = "query Nope { garbageSorting { noSuchField } }"


def test_a_dropped_schema_is_freed_after_it_validated_operations() -> None:
    schema = build_schema()
    result = asyncio.run(schema.execute(INVALID))  # validated (and the verdict cached)
    assert result.errors and "noSuchField" in result.errors[0].message
    gone = weakref.ref(schema)
    del schema, result
    gc.collect()
    assert gone() is None, "something still holds the schema (a module-level cache?)"


def test_stopped_mocks_leave_nothing_behind() -> None:
    spec = next(s for s in MOCKS if s.name == "library")

    async def serve_and_stop() -> None:
        running = await start_mocks([spec], ports={"library": 0})
        stats = f"{running.urls['library']}/__admin/stats"
        async with aiohttp.ClientSession() as http, http.get(stats) as answer:
            assert answer.status == 200  # the app ran its middleware chain
        await running.stop()

    def libraries() -> int:
        gc.collect()
        return sum(1 for o in gc.get_objects() if isinstance(o, Library))

    before = libraries()
    for _ in range(3):
        asyncio.run(serve_and_stop())
    assert libraries() == before
