"""The idempotency store on SQLite and PostgreSQL: one side effect per (caller, key)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from hub.store.db import Database, create_tables, drop_tables, make_engine
from hub.store.idempotency import SqlIdempotencyStore, upstream_key
from hub.store.models import IdempotencyRecord
from schema.errors import IdempotencyKeyReused, MutationInProgress

URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])


@pytest.fixture(params=URLS)
def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    url = (
        f"sqlite:///{tmp_path_factory.mktemp('idem') / 'hub.db'}"
        if request.param == "sqlite"
        else os.environ["HUB_TEST_DATABASE_URL"]
    )
    engine: Engine = make_engine(url)
    drop_tables(engine)
    create_tables(engine)
    yield Database(engine)
    drop_tables(engine)
    engine.dispose()


class SideEffect:
    """Counts how often the 'department' was asked, and with which keys."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.keys: list[str] = []
        self.fail = fail

    async def __call__(self, key: str) -> str:
        self.keys.append(key)
        await asyncio.sleep(0)  # let the concurrent repeats arrive while this one runs
        if self.fail is not None:
            raise self.fail
        return f'{{"done": {len(self.keys)}}}'


async def test_fifty_concurrent_and_fifty_sequential_repeats_do_it_once(database: Database) -> None:
    store, effect = SqlIdempotencyStore(database), SideEffect()
    concurrent = await asyncio.gather(
        *(store.run(scope="R000001", key="k1", fingerprint="f", perform=effect) for _ in range(50))
    )
    sequential = [
        await store.run(scope="R000001", key="k1", fingerprint="f", perform=effect)
        for _ in range(50)
    ]
    assert set(concurrent) | set(sequential) == {'{"done": 1}'}
    assert effect.keys == [upstream_key("R000001", "k1")]


async def test_another_replica_sees_the_stored_outcome(database: Database) -> None:
    effect = SideEffect()
    first = await SqlIdempotencyStore(database).run(
        scope="R1", key="k", fingerprint="f", perform=effect
    )
    again = await SqlIdempotencyStore(database).run(
        scope="R1", key="k", fingerprint="f", perform=effect
    )
    assert first == again and len(effect.keys) == 1


async def test_same_key_other_request_is_refused(database: Database) -> None:
    store, effect = SqlIdempotencyStore(database), SideEffect()
    await store.run(scope="R1", key="k", fingerprint="pay 100", perform=effect)
    with pytest.raises(IdempotencyKeyReused):
        await store.run(scope="R1", key="k", fingerprint="pay 999", perform=effect)
    assert len(effect.keys) == 1


async def test_keys_are_per_caller(database: Database) -> None:
    store, effect = SqlIdempotencyStore(database), SideEffect()
    await store.run(scope="R1", key="k", fingerprint="f", perform=effect)
    await store.run(scope="R2", key="k", fingerprint="f", perform=effect)
    assert len(effect.keys) == 2 and effect.keys[0] != effect.keys[1]


async def test_a_failed_attempt_releases_the_key(database: Database) -> None:
    store = SqlIdempotencyStore(database)
    with pytest.raises(ConnectionError):
        await store.run(
            scope="R1", key="k", fingerprint="f", perform=SideEffect(fail=ConnectionError())
        )
    retry = SideEffect()
    assert await store.run(scope="R1", key="k", fingerprint="f", perform=retry) == '{"done": 1}'


async def test_a_repeat_elsewhere_waits_then_reports_in_progress(database: Database) -> None:
    first, other_replica = SqlIdempotencyStore(database), SqlIdempotencyStore(database, wait_s=0.2)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(key: str) -> str:
        started.set()
        await release.wait()
        return "{}"

    running = asyncio.create_task(first.run(scope="R1", key="k", fingerprint="f", perform=slow))
    await started.wait()
    with pytest.raises(MutationInProgress):
        await other_replica.run(scope="R1", key="k", fingerprint="f", perform=SideEffect())
    release.set()
    assert await running == "{}"


async def test_replicas_taking_over_an_abandoned_claim_do_it_once(database: Database) -> None:
    # given claims whose process died ten minutes ago, and ten replicas retrying each key at once
    # (several rounds: the interleaving that went wrong is likely, not certain, in any one)
    fingerprint = hmac.new(b"", b"f", hashlib.sha256).hexdigest()
    stale = datetime.now(UTC) - timedelta(minutes=10)
    keys = [f"k-abandoned-{round}" for round in range(8)]

    def abandon(session: Session) -> None:
        for key in keys:
            session.add(
                IdempotencyRecord(
                    scope="R000001", key=key, fingerprint=fingerprint,
                    created_at=stale, updated_at=stale,
                )
            )  # fmt: skip
        session.commit()

    await database.run(abandon)
    replicas = [SqlIdempotencyStore(database, poll_s=0.01) for _ in range(10)]
    for key in keys:
        effect = SlowSideEffect()
        answers = await asyncio.gather(
            *(
                store.run(scope="R000001", key=key, fingerprint="f", perform=effect)
                for store in replicas
            )
        )
        # then exactly one of them performs it (a late release must not delete the new claim)
        assert effect.keys == [upstream_key("R000001", key)]
        assert set(answers) == {'{"done": 1}'}


class SlowSideEffect(SideEffect):
    async def __call__(self, key: str) -> str:
        self.keys.append(key)
        await asyncio.sleep(0.05)  # the other replicas' releases land while this one runs
        return f'{{"done": {len(self.keys)}}}'
