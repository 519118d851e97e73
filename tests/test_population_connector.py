"""The population connector against the real exchange mock, over loopback HTTP: signatures,
nonces, purposes (and the exchange's log of them), batches of ≤ 100, 429 and maintenance."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp
import httpx
import orjson
import pytest

from connectors.errors import UpstreamMaintenance, UpstreamRejected, UpstreamUnavailable
from connectors.population import PopulationConnector
from connectors.population.models import Sex
from connectors.population.signing import signed_headers
from hub.store import seed as hub_seed
from tests.gov import cases, fresh_admin, policy, set_rate_limit, start_mock
from tests.support import BackgroundMocks, MockAdmin

PERSONS = "POST /exchange/v1/person/query"
HOUSEHOLDS = "POST /exchange/v1/household/query"
PURPOSE = "11440303MB2C00001A4440117001000"  # an elderly-allowance impl_code
SHANGHAI = timezone(timedelta(hours=8))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("population", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def exchange(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["population"])
    httpx.delete(f"{admin.url}/__admin/exchange-log").raise_for_status()
    set_rate_limit(admin.url, 30)
    maintenance(admin, None)
    yield admin
    admin.clear_faults()
    set_rate_limit(admin.url, 30)
    maintenance(admin, None)


@pytest.fixture
async def connector(exchange: MockAdmin) -> AsyncIterator[PopulationConnector]:
    async with aiohttp.ClientSession() as session:
        yield PopulationConnector(session, policy("population", exchange.url))


def maintenance(exchange: MockAdmin, window: str | None) -> None:
    """The mock's nightly window (``HH:MM-HH:MM`` Shanghai time), or none."""
    httpx.post(f"{exchange.url}/__admin/maintenance", json={"window": window}).raise_for_status()


def log(exchange: MockAdmin, **query: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(
        f"{exchange.url}/__admin/exchange-log", params=query
    ).json()["entries"]
    return entries


def raw_query(exchange: MockAdmin, headers: dict[str, str], body: bytes) -> httpx.Response:
    return httpx.post(
        f"{exchange.url}/exchange/v1/person/query",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def signed(body: bytes, **overrides: Any) -> dict[str, str]:
    return signed_headers(
        "ihub-luohu",
        overrides.pop("secret", "dev-exchange-secret"),
        "POST",
        "/exchange/v1/person/query",
        body,
        timestamp_ms=overrides.pop("timestamp_ms", int(time.time() * 1000)),
        **overrides,
    )


async def test_the_registrys_persons_are_the_hubs_residents(
    connector: PopulationConnector,
) -> None:
    residents = {row["id_number"]: row for row in hub_seed.rows()[hub_seed.Resident]}
    wanted = [hub_seed.id_number(n) for n in (1, 2, 3, 500, 999, 1000)]
    found = await connector.persons(wanted, purpose=PURPOSE)
    assert set(found) == set(wanted)
    for id_number in wanted:
        person, row = found[id_number], residents[id_number]
        assert (person.name, person.birth_date) == (row["name"], row["birth_date"])
        assert person.household_id == row["household_id"]
        assert person.sex is (Sex.MALE if int(id_number[16]) % 2 else Sex.FEMALE)
        assert person.alive


async def test_unknown_ids_are_simply_missing(connector: PopulationConnector) -> None:
    known = hub_seed.id_number(7)
    unknown = known[:-1] + ("0" if known[-1] != "0" else "1")
    found = await connector.persons([known, unknown, "440303000000000000"], purpose=PURPOSE)
    assert list(found) == [known]
    assert await connector.person(unknown, purpose=PURPOSE) is None


async def test_ids_go_in_batches_of_at_most_one_hundred(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    wanted = [hub_seed.id_number(n) for n in range(1, 251)]
    found = await connector.persons([*wanted, wanted[0]], purpose=PURPOSE)
    assert set(found) == set(wanted)
    assert exchange.calls(PERSONS) == 3
    assert sorted(exchange.stats()["batch_sizes"][PERSONS]) == [50, 100, 100]
    assert await connector.persons([], purpose=PURPOSE) == {}
    assert exchange.calls(PERSONS) == 3


async def test_every_call_names_its_purpose_and_the_exchange_logs_it(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    await connector.persons([hub_seed.id_number(1)], purpose=PURPOSE)
    await connector.households(["H0001"], purpose="OTHER-ITEM-0001")
    entries = log(exchange)
    assert [(e["path"], e["purpose"], e["status"]) for e in entries] == [
        ("/exchange/v1/person/query", PURPOSE, 200),
        ("/exchange/v1/household/query", "OTHER-ITEM-0001", 200),
    ]
    assert [e["app"] for e in log(exchange, purpose=PURPOSE)] == ["ihub-luohu"]


async def test_no_call_leaves_without_a_purpose(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    with pytest.raises(ValueError, match="purpose"):
        await connector.persons([hub_seed.id_number(1)], purpose=" ")
    assert exchange.total() == 0
    # and the exchange itself refuses a correctly signed call that names none
    body = orjson.dumps({"id_numbers": [hub_seed.id_number(1)]})
    refused = raw_query(exchange, signed(body), body)
    assert refused.status_code == 403
    assert refused.json()["code"] == "E_PURPOSE"
    assert [(e["purpose"], e["status"]) for e in log(exchange)] == [(None, 403)]


async def test_a_wrong_secret_is_refused_as_a_bad_signature(exchange: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = policy("population", exchange.url, credentials={"secret": "not-the-secret"})
        connector = PopulationConnector(session, wrong)
        with pytest.raises(UpstreamRejected) as refused:
            await connector.persons([hub_seed.id_number(1)], purpose=PURPOSE)
    assert refused.value.code == "E_SIGNATURE"
    assert exchange.calls(PERSONS) == 1, "a refusal is not retried"


async def test_a_tampered_body_or_a_replayed_nonce_is_refused(exchange: MockAdmin) -> None:
    body = orjson.dumps({"id_numbers": [hub_seed.id_number(1)]})
    headers = {**signed(body, nonce="n-0001"), "X-Exchange-Purpose": PURPOSE}
    tampered = orjson.dumps({"id_numbers": [hub_seed.id_number(2)]})
    assert raw_query(exchange, headers, tampered).json()["code"] == "E_SIGNATURE"
    assert raw_query(exchange, headers, body).status_code == 200
    replay = raw_query(exchange, headers, body)
    assert (replay.status_code, replay.json()["code"]) == (401, "E_NONCE")


async def test_a_skewed_clock_is_refused(exchange: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        connector = PopulationConnector(session, policy("population", exchange.url))
        connector.wall_clock_ms = lambda: int(time.time() * 1000) - 6 * 60 * 1000
        with pytest.raises(UpstreamRejected) as refused:
            await connector.persons([hub_seed.id_number(1)], purpose=PURPOSE)
    assert refused.value.code == "E_TIMESTAMP"


async def test_a_429_waits_for_retry_after_and_each_retry_is_signed_afresh(
    exchange: MockAdmin,
) -> None:
    # given an exchange that allows this app 3 calls a second
    set_rate_limit(exchange.url, 3)
    async with aiohttp.ClientSession() as session:
        connector = PopulationConnector(session, policy("population", exchange.url, max_retries=4))
        wanted = [hub_seed.id_number(n) for n in range(1, 9)]
        # when eight single-id look-ups go at once
        found = await asyncio.gather(*(connector.person(i, purpose=PURPOSE) for i in wanted))
    # then every one is answered, after some 429s, and no retry reused a nonce
    assert [p.id_number if p else None for p in found] == wanted
    assert exchange.answers(PERSONS, 429) >= 5
    assert exchange.answers(PERSONS, 401) == 0
    assert exchange.answers(PERSONS, 200) == 8


async def test_the_connector_paces_itself_under_the_quota(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    wanted = [hub_seed.id_number(n) for n in range(1, 41)]
    found = await asyncio.gather(*(connector.person(i, purpose=PURPOSE) for i in wanted))
    assert all(found)
    assert exchange.answers(PERSONS, 200) == 40
    assert exchange.answers(PERSONS, 429) == 0, "40 calls at 30 a second: paced, never refused"
    assert connector.pacer.waits >= 1


def window_around_now() -> str:
    now = datetime.now(SHANGHAI)
    start, end = now - timedelta(minutes=1), now + timedelta(minutes=2)
    return f"{start:%H:%M}-{end:%H:%M}"


async def test_the_maintenance_window_is_a_typed_error_saying_when_it_ends(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    maintenance(exchange, window_around_now())
    with pytest.raises(UpstreamMaintenance) as closed:
        await connector.persons([hub_seed.id_number(1)], purpose=PURPOSE)
    assert closed.value.retry_after_s is not None and 0 < closed.value.retry_after_s <= 180
    assert closed.value.department == "population"
    assert exchange.answers(PERSONS, 503) == 1, "not retried: it will not end within the budget"
    # a window at another time of day leaves the exchange open
    later = datetime.now(SHANGHAI) + timedelta(hours=3)
    window = f"{later:%H:%M}-{later + timedelta(minutes=30):%H:%M}"
    maintenance(exchange, window)
    assert await connector.person(hub_seed.id_number(1), purpose=PURPOSE) is not None


async def test_an_exchange_that_is_down_is_unavailable_not_maintenance(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    exchange.faults(down=True)
    with pytest.raises(UpstreamUnavailable) as down:
        await connector.persons([hub_seed.id_number(1)], purpose=PURPOSE)
    assert not isinstance(down.value, UpstreamMaintenance)


async def test_households_list_members_with_relations(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    relative = cases(exchange.url)["turns_70_today"]
    household_id = relative["household_id"]
    found = await connector.households([household_id, "H9999999", "X1"], purpose=PURPOSE)
    assert list(found) == [household_id]
    members = {m.id_number: m for m in found[household_id].members}
    k = int(household_id[1:])
    assert members[hub_seed.id_number(2 * k - 1)].relation == "户主"
    assert members[hub_seed.id_number(2 * k)].relation == "配偶"
    assert members[relative["id_number"]].relation == relative["relation"]
    assert len(members) == 2 + k % 4 + 1
    assert sorted(exchange.stats()["batch_sizes"][HOUSEHOLDS]) == [3]


async def test_a_case_reads_as_the_admin_list_says(
    connector: PopulationConnector, exchange: MockAdmin
) -> None:
    listed = cases(exchange.url)
    wanted = {
        name: listed[name]["id_number"] for name in ("dead_aged_85", "elderly_hukou_elsewhere")
    }
    found = await connector.persons(wanted.values(), purpose=PURPOSE)
    assert found[wanted["dead_aged_85"]].alive is False
    assert found[wanted["elderly_hukou_elsewhere"]].hukou_district == "440304"
