"""Search terms computed by the terms child and stored with the catalogue's rows.

The lease holder stores them with the rows it writes; a loader meeting rows without terms of
this version (an older database) computes them itself and the lease holder fills them in; a
child that fails is logged and tried again at the next tick. A running hub never imports
pypinyin nor loads jieba's full dictionary, and on the embedded defaults not Redis's client.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from hub.catalogue import analysis
from hub.store import catalogue as store
from mocks.common.launcher import MockConfig
from schema.context import ItemFilter
from tests.catalogue_copies import DATABASES, SPEC, TOTAL, copy_of, engine_for
from tests.serving import Serve, free_ports
from tests.support import BackgroundMocks, MockAdmin


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = BackgroundMocks((SPEC,), MockConfig(state_dir=tmp_path_factory.mktemp("catalogue")))
    yield mocks
    mocks.close()


@pytest.fixture
def catalogue(running: BackgroundMocks) -> MockAdmin:
    admin = MockAdmin(running.urls["catalogue"])
    admin.reset()
    return admin


@pytest.fixture(params=DATABASES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    yield from engine_for(request.param, tmp_path)


def versions(engine: Engine) -> set[str | None]:
    with Session(engine) as session:
        return set(session.exec(select(store.CatalogueItem.terms_version)).all())


def forget_terms(engine: Engine) -> None:
    """The database as a hub of the version before stored terms left it."""
    with Session(engine) as session:
        session.execute(update(store.CatalogueItem).values(terms=None, terms_version=None))
        session.execute(update(store.CatalogueSync).values(analysis=None))
        session.commit()


async def ranked(copy: object, query: str) -> list[tuple[str, float | None]]:
    found = await copy.items(ItemFilter(query=query), offset=0, limit=20)  # type: ignore[attr-defined]
    return [(hit.item.impl_code, hit.score) for hit in found.hits]


async def test_the_lease_holder_stores_terms_and_followers_only_read_them(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with (
        copy_of(catalogue, engine, owner="a") as leader,
        copy_of(catalogue, engine, owner="b") as follower,
    ):
        assert await leader.refresh() == "full"
        assert versions(engine) == {analysis.VERSION}
        with Session(engine) as session:
            assert analysis.decode_base(store.read_analysis(session)) is not None
        await follower.load()
        status = follower.status()["analysis"]
        assert isinstance(status, dict) and status["termsComputedHere"] == 0
        assert status["fullDictionary"] is False and status["vocabularyWords"] > 1000
        assert await ranked(follower, "gjj") == await ranked(leader, "gjj")


async def test_rows_without_terms_are_computed_by_the_loader_and_filled_in(
    catalogue: MockAdmin, engine: Engine
) -> None:
    async with copy_of(catalogue, engine, owner="a") as leader:
        assert await leader.refresh() == "full"
        expected = await ranked(leader, "社保 登记")
        # given a database whose rows have no terms (written by an older hub)
        forget_terms(engine)
        async with copy_of(catalogue, engine, owner="b") as older:
            # when a replica loads it, then it computes them itself and answers the same
            await older.load()
            assert older.computed_terms == TOTAL
            assert await ranked(older, "社保 登记") == expected
        # and the lease holder's next tick fills them in, revisions unchanged
        revision = leader.status()["revision"]
        assert await leader.refresh() == "changes"
        assert versions(engine) == {analysis.VERSION}
        assert leader.status()["revision"] == revision
        async with copy_of(catalogue, engine, owner="c") as later:
            await later.load()
            assert later.computed_terms == 0
            assert await ranked(later, "社保 登记") == expected


async def test_a_failing_child_is_logged_and_tried_again_next_tick(
    catalogue: MockAdmin,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    failing = (sys.executable, "-c", "import sys; print('no dictionary', file=sys.stderr); 1/0")
    monkeypatch.setattr(analysis, "CHILD", failing)
    async with copy_of(catalogue, engine) as copy:
        # when the child fails at the first fill
        with caplog.at_level(logging.ERROR, logger="ihub.catalogue"):
            assert await copy.refresh() == "full"
        # then the rows are written without terms, not taken into memory, and it says why
        assert versions(engine) == {None}
        assert copy.status()["items"] == 0
        logged = " ".join(record.getMessage() for record in caplog.records)
        assert "written without search terms" in logged and "not taken" in logged
        assert "ZeroDivisionError" in logged
        # and once the child works again, the next tick computes them and the copy loads
        monkeypatch.undo()
        assert await copy.refresh() == "changes"
        assert versions(engine) == {analysis.VERSION}
        assert copy.status()["items"] == TOTAL
        assert (await ranked(copy, "gjj"))[0][0]


def test_a_running_hub_never_imports_pypinyin_nor_loads_the_full_dictionary_nor_redis(
    tmp_path: Path,
) -> None:
    base = free_ports(15)
    # every import the hub's process makes is written to its stderr (the terms child's
    # stderr goes to the hub, which reads it: not to the hub's stderr)
    serve = Serve(tmp_path, port=base, mocks_base_port=base + 1, PYTHONPROFILEIMPORTTIME="1")
    output: dict[str, list[str]] = {"out": [], "err": []}
    drains = [
        threading.Thread(target=lambda s=stream, k=key: output[k].extend(s), daemon=True)
        for key, stream in (("out", serve.process.stdout), ("err", serve.process.stderr))
    ]
    for drain in drains:
        drain.start()
    try:
        serve.wait_ready()
        deadline = time.monotonic() + 60
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{serve.url}/status", timeout=10).json()["catalogue"]
            if status["indexed"] == TOTAL:
                break
            time.sleep(0.2)
        assert status["indexed"] == TOTAL
        query = (
            '{ services { items(first: 1, filter: {query: "gjj"}) { edges { node { name } } } } }'
        )
        answer = httpx.post(f"{serve.url}/graphql", json={"query": query}, timeout=30).json()
        assert answer["data"]["services"]["items"]["edges"][0]["node"]["name"]
        status = httpx.get(f"{serve.url}/status", timeout=10).json()["catalogue"]
    finally:
        serve.process.send_signal(signal.SIGINT)
        serve.process.wait(timeout=60)
        for drain in drains:
            drain.join(timeout=10)
    imported = {line.rsplit("|", 1)[-1].strip() for line in output["err"] if "|" in line}
    assert "jieba" in imported and "tantivy" in imported  # the hub's imports are there
    assert not {name for name in imported if name.split(".")[0] == "pypinyin"}
    # on the embedded defaults (no HUB_REDIS_URL) Redis's client is not imported (~9 MB)
    assert not {name for name in imported if name.split(".")[0] == "redis"}
    assert status["analysis"]["fullDictionary"] is False
    assert status["analysis"]["fullDictionaryLoaded"] is False
    assert status["analysis"]["termsComputedHere"] == 0
