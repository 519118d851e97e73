"""The 人社 connector against the real mock: the envelope's codes, camelCase, dates."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.hrss import HrssConnector
from connectors.hrss.models import InsuranceStatus
from hub.store import seed as hub_seed
from tests.gov import cases, fresh_admin, policy, start_mock
from tests.support import BackgroundMocks, MockAdmin


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("hrss", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def hrss(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["hrss"])
    yield admin
    admin.clear_faults()


@pytest.fixture
async def connector(hrss: MockAdmin) -> AsyncIterator[HrssConnector]:
    async with aiohttp.ClientSession() as session:
        yield HrssConnector(session, policy("hrss", hrss.url))


@pytest.fixture(scope="module")
def people(running: BackgroundMocks) -> dict[str, dict[str, Any]]:
    return cases(running.urls["hrss"])


async def test_a_retired_persons_insurance_and_pension(
    connector: HrssConnector, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["turns_80_today"]["id_number"]
    insured = await connector.insurance(id_number)
    assert insured is not None
    assert insured.status is InsuranceStatus.RETIRED and insured.months > 0
    retired = await connector.retirement(id_number)
    assert retired is not None and retired.retired
    assert retired.retire_date is not None and retired.pension_fen and retired.pension_fen > 0


async def test_residents_are_found_by_the_hubs_id_numbers(connector: HrssConnector) -> None:
    found = [await connector.insurance(hub_seed.id_number(n)) for n in range(1, 21)]
    insured = [record for record in found if record is not None]
    assert insured, "most working-age residents are insured"
    assert all(record.insured_since.year >= 1968 for record in insured)


async def test_no_record_is_none_and_a_bad_id_is_rejected(
    connector: HrssConnector, hrss: MockAdmin
) -> None:
    assert await connector.insurance("440303190001010000") is None
    with pytest.raises(UpstreamRejected) as refused:
        await connector.insurance("123")
    assert refused.value.code == "1001"


async def test_a_wrong_key_is_rejected(hrss: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = policy("hrss", hrss.url, credentials={"api_key": "nope"})
        with pytest.raises(UpstreamRejected) as refused:
            await HrssConnector(session, wrong).insurance(hub_seed.id_number(1))
    assert refused.value.code == "4010"


async def test_a_garbage_body_is_a_payload_error(connector: HrssConnector, hrss: MockAdmin) -> None:
    hrss.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.retirement(hub_seed.id_number(1))
