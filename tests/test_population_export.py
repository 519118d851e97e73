"""The population connector's bulk export against the real exchange mock, over loopback HTTP:
pages as columns covering the window once, resuming from a cursor, a bad cursor as a typed
error, a purpose on every page and one upstream call per page."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import aiohttp
import httpx
import numpy as np
import orjson
import pytest

from connectors.errors import UpstreamRejected
from connectors.population import PopulationConnector
from connectors.population.models import ExportPage, Sex
from connectors.population.signing import signed_headers
from mocks.common.population import LUOHU, Population
from tests.gov import fresh_admin, policy, set_rate_limit, start_mock
from tests.support import BackgroundMocks, MockAdmin

AS_OF = date(2026, 12, 3)
SIZE = 20_000
EXPORT = "POST /exchange/v1/person/export"
PURPOSE = "11440303MB2C93316W4000118004"
FIRST, LAST = date(1950, 1, 1), date(1957, 12, 31)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("population", tmp_path_factory, population=SIZE, as_of=AS_OF)
    yield mocks
    mocks.close()


@pytest.fixture(scope="module")
def registry() -> Population:
    """The mock's population, made here by the same rules, to say what the export must hold."""
    return Population(SIZE, seed=20261127, as_of=AS_OF)


@pytest.fixture
def exchange(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["population"])
    httpx.delete(f"{admin.url}/__admin/exchange-log").raise_for_status()
    set_rate_limit(admin.url, 30)
    yield admin
    admin.clear_faults()
    set_rate_limit(admin.url, 30)


@pytest.fixture
async def connector(exchange: MockAdmin) -> AsyncIterator[PopulationConnector]:
    async with aiohttp.ClientSession() as session:
        yield PopulationConnector(session, policy("population", exchange.url))


async def pages(
    connector: PopulationConnector, *, cursor: str | None = None, size: int = 600
) -> list[ExportPage]:
    found = []
    while True:
        page = await connector.export(
            purpose=PURPOSE,
            born_from=FIRST,
            born_to=LAST,
            hukou_district=LUOHU,
            cursor=cursor,
            size=size,
        )
        found.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return found


def log(exchange: MockAdmin) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{exchange.url}/__admin/exchange-log").json()[
        "entries"
    ]
    return entries


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, content=body, headers=headers)


def expected_ids(registry: Population) -> list[str]:
    found = []
    for ordinal in range(FIRST.toordinal(), LAST.toordinal() + 1):
        born = registry.born_on(date.fromordinal(ordinal))
        found += [p.id_number for p in born if p.hukou_district == LUOHU]
    return found


async def test_the_pages_cover_the_window_exactly_once_in_columns(
    connector: PopulationConnector, exchange: MockAdmin, registry: Population
) -> None:
    # when the whole window is read in pages of 600
    found = await pages(connector)
    # then every person of the window and district comes once, in the registry's order
    ids = np.concatenate([page.id_number for page in found]).tolist()
    expected = expected_ids(registry)
    assert ids == expected and len(set(ids)) == len(ids)
    assert [len(page) for page in found[:-1]] == [600] * (len(found) - 1)
    assert 0 < len(found[-1]) <= 600
    # and one upstream call per page, each naming the purpose
    assert exchange.calls(EXPORT) == len(found)
    assert [(e["purpose"], e["status"]) for e in log(exchange)] == [(PURPOSE, 200)] * len(found)
    # and the columns are the registry's facts, typed
    page = found[1]
    assert page.birth_date.dtype == np.dtype("datetime64[D]")
    assert page.hukou_since.dtype == np.dtype("datetime64[D]")
    assert page.alive.dtype == np.bool_
    for row in (0, 123, len(page) - 1):
        person = registry.person(str(page.id_number[row]))
        assert person is not None
        assert page.birth_date[row].item() == person.birth_date
        assert page.hukou_since[row].item() == person.hukou_since
        assert str(page.name[row]) == person.name
        assert str(page.household_id[row]) == person.household_id
        assert str(page.mobile[row]) == person.mobile
        assert bool(page.alive[row]) is person.alive
        assert str(page.sex[row]) == (Sex.MALE if person.sex == "1" else Sex.FEMALE).value
    assert set(np.concatenate([p.hukou_district for p in found]).tolist()) == {LUOHU}


async def test_a_cursor_resumes_with_the_rest(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    whole = await pages(connector, size=300)
    assert len(whole) >= 4
    exchange.reset()
    rest = await pages(connector, cursor=whole[1].next_cursor, size=300)
    assert [p.id_number.tolist() for p in rest] == [p.id_number.tolist() for p in whole[2:]]
    assert exchange.calls(EXPORT) == len(whole) - 2


async def test_a_bad_cursor_is_a_typed_refusal_not_retried(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    [first, *_] = await pages(connector, size=500)
    assert first.next_cursor is not None
    day, slot, mac = first.next_cursor.split(".")
    exchange.reset()
    for cursor, born_to in (
        ("not-a-cursor", LAST),
        (f"{day}.{int(slot) + 7}.{mac}", LAST),
        (first.next_cursor, date(1958, 1, 1)),  # another window's
    ):
        with pytest.raises(UpstreamRejected) as refused:
            await connector.export(
                purpose=PURPOSE,
                born_from=FIRST,
                born_to=born_to,
                hukou_district=LUOHU,
                cursor=cursor,
                size=100,
            )
        assert refused.value.code == "E_BAD_CURSOR"
        assert refused.value.department == "population"
    assert exchange.calls(EXPORT) == 3, "a refusal is not retried"


async def test_no_page_leaves_without_a_purpose(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    with pytest.raises(ValueError, match="purpose"):
        await connector.export(
            purpose=" ", born_from=FIRST, born_to=LAST, hukou_district=None, cursor=None, size=10
        )
    assert exchange.total() == 0
    # and the exchange itself refuses a correctly signed export that names none
    body = orjson.dumps({"born_from": "19500101", "born_to": "19501231"})
    path = "/exchange/v1/person/export"
    headers = signed_headers(
        "ihub-luohu",
        "dev-exchange-secret",
        "POST",
        path,
        body,
        timestamp_ms=int(time.time() * 1000),
    )
    refused = raw_post(f"{exchange.url}{path}", body, headers)
    assert (refused.status_code, refused.json()["code"]) == (403, "E_PURPOSE")


@pytest.mark.parametrize(
    ("born_from", "born_to", "size"),
    [(FIRST, LAST, 0), (FIRST, LAST, 10_001), (LAST, FIRST, 10)],
)
async def test_a_query_the_exchange_would_refuse_is_not_sent(
    connector: PopulationConnector, exchange: MockAdmin, born_from: date, born_to: date, size: int
) -> None:
    with pytest.raises(ValueError):
        await connector.export(
            purpose=PURPOSE,
            born_from=born_from,
            born_to=born_to,
            hukou_district=None,
            cursor=None,
            size=size,
        )
    assert exchange.total() == 0


async def test_pages_wait_under_the_rate_limit_and_are_all_answered(
    exchange: MockAdmin,
) -> None:
    # given an exchange allowing 3 calls a second, and a connector knowing nothing of it
    set_rate_limit(exchange.url, 3)
    async with aiohttp.ClientSession() as session:
        connector = PopulationConnector(session, policy("population", exchange.url, max_retries=6))
        # when the window is read in small pages, one after the other
        found = await pages(connector, size=400)
    # then every page is answered (some after a 429 and its Retry-After)
    assert len(found) > 3
    assert exchange.answers(EXPORT, 200) == len(found)
    assert exchange.answers(EXPORT, 401) == 0
