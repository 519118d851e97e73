"""Check-then-act races: limits hold under truly concurrent requests, on SQLite and PostgreSQL,
across hub processes sharing one database."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.security.ratelimit import BucketPolicy
from hub.store.db import drop_tables, make_engine
from schema.context import CallerKind
from tests.support import LiveHub, MockAdmin

URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])
UNLOCK = "POST /v3/lock/unlock"
LOCKS = {(True, 8): 10001, (True, 20): 10004, (False, 8): 10002, (False, 20): 10003}
OPEN = """mutation Open($input: OpenDoorInput!) {
  openDoor(input: $input) { outcome userErrors { code } } }"""


@pytest.fixture(params=URLS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or the PostgreSQL test database emptied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'races.db'}"
        return
    url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    engine.dispose()
    yield url


@pytest.fixture
def cloud(mocks: Any) -> Iterator[MockAdmin]:
    admin = MockAdmin(mocks.urls["locks"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


async def open_concurrently(hubs: list[LiveHub], token: str, lock_id: int, n: int) -> list[str]:
    """``n`` openDoor calls at once, each with its own idempotency key, spread over ``hubs``."""

    async def one(client: httpx.AsyncClient, index: int) -> str:
        variables = {"input": {"lockId": str(lock_id), "idempotencyKey": f"race-{n}-{index}"}}
        response = await client.post(
            "/graphql",
            json={"query": OPEN, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = response.json()
        assert "errors" not in body, body
        errors = body["data"]["openDoor"]["userErrors"]
        return errors[0]["code"] if errors else "OPENED"

    clients = [httpx.AsyncClient(base_url=hub.url, timeout=60) for hub in hubs]
    try:
        return await asyncio.gather(*(one(clients[i % len(clients)], i) for i in range(n)))
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))


@pytest.mark.parametrize(("calls", "hubs"), [(8, 1), (20, 2)])
def test_concurrent_open_doors_unlock_exactly_the_limit(
    start_hub: Callable[..., LiveHub],
    cloud: MockAdmin,
    token_for: Callable[..., str],
    database_url: str,
    calls: int,
    hubs: int,
) -> None:
    # R000001 holds keys to all four; one lock per case, as the mock refuses an 11th unlock of
    # one lock within a minute (also as TOO_MANY_ATTEMPTS)
    lock_id = LOCKS[database_url.startswith("sqlite"), calls]
    started = [start_hub(database_url=database_url) for _ in range(hubs)]  # 5 a minute
    codes = asyncio.run(open_concurrently(started, token_for("R000001"), lock_id, calls))
    assert cloud.calls(UNLOCK) == 5, codes
    assert codes.count("TOO_MANY_ATTEMPTS") == calls - 5, codes


@pytest.mark.parametrize("requests", [20, 60])
def test_concurrent_requests_on_a_bucket_of_b_allow_exactly_b(
    start_hub: Callable[..., LiveHub], token_for: Callable[..., str], requests: int
) -> None:
    # a bucket of 7 that refills once in 1,000 s: none refills during the burst
    tight = BucketPolicy("resident", 7, 0.001)
    hub = start_hub(
        rate_limits={kind: BucketPolicy(kind.value, 1000, 100.0) for kind in CallerKind}
        | {CallerKind.RESIDENT: tight}
    )
    token = token_for("R000001")

    async def burst() -> list[int]:
        async with httpx.AsyncClient(base_url=hub.url, timeout=60) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/graphql",
                        json={"query": "{ me { name } }"},
                        headers={"Authorization": f"Bearer {token}"},
                    )
                    for _ in range(requests)
                )
            )
        return [answer.status_code for answer in answers]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 7, statuses
    assert statuses.count(429) == requests - 7, statuses
