"""The credential-verification connector against the real mock: valid degrees, a wrong name
answers only ``valid: false``, 5 calls a second paced and 429 Retry-After honoured."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import aiohttp
import pytest

from connectors.credentials import CredentialsConnector
from connectors.credentials.models import DegreeLevel
from connectors.errors import UpstreamRejected
from tests.gov import cases, fresh_admin, policy, set_rate_limit, start_mock
from tests.support import BackgroundMocks, MockAdmin

VERIFY = "POST /verify"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("credentials", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def service(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["credentials"])
    set_rate_limit(admin.url, 5)
    yield admin
    admin.clear_faults()
    set_rate_limit(admin.url, 5)


@pytest.fixture
async def connector(service: MockAdmin) -> AsyncIterator[CredentialsConnector]:
    async with aiohttp.ClientSession() as session:
        yield CredentialsConnector(session, policy("credentials", service.url, max_retries=4))


@pytest.fixture(scope="module")
def people(running: BackgroundMocks) -> dict[str, dict[str, Any]]:
    return cases(running.urls["credentials"])


@pytest.mark.parametrize(
    ("case", "degree", "school", "full_time"),
    [
        ("graduate_bachelor", DegreeLevel.BACHELOR, "深圳大学", True),
        ("graduate_master", DegreeLevel.MASTER, "中山大学", True),
        ("graduate_doctor", DegreeLevel.DOCTOR, "清华大学", True),
        ("graduate_college", DegreeLevel.ASSOCIATE, "深圳职业技术大学", True),
        ("graduate_part_time", DegreeLevel.BACHELOR, "广州大学", False),
    ],
)
async def test_a_graduates_degree_verifies_under_their_name(
    connector: CredentialsConnector,
    people: dict[str, dict[str, Any]],
    case: str,
    degree: DegreeLevel,
    school: str,
    full_time: bool,
) -> None:
    graduate = people[case]
    found = await connector.verify(graduate["cert_no"], graduate["name"])
    assert found.valid and found.credential is not None
    assert (found.credential.degree, found.credential.school) == (degree, school)
    assert found.credential.full_time is full_time
    assert found.credential.graduation_date.month == 6
    assert found.credential.graduation_date <= date.today()


async def test_a_degree_under_another_name_is_only_not_valid(
    connector: CredentialsConnector, people: dict[str, dict[str, Any]]
) -> None:
    graduate = people["graduate_other_name"]
    assert graduate["cert_name"] != graduate["name"]
    wrong = await connector.verify(graduate["cert_no"], graduate["name"])
    assert (wrong.valid, wrong.credential) == (False, None)
    right = await connector.verify(graduate["cert_no"], graduate["cert_name"])
    assert right.valid and right.credential is not None
    unknown = await connector.verify("105900000000000000", graduate["name"])
    assert unknown == type(unknown)("105900000000000000", False, None)


async def test_the_connector_paces_itself_at_five_a_second(
    connector: CredentialsConnector, service: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    graduate = people["graduate_bachelor"]
    found = await asyncio.gather(
        *(connector.verify(graduate["cert_no"], graduate["name"]) for _ in range(8))
    )
    assert all(answer.valid for answer in found)
    assert service.answers(VERIFY, 200) == 8
    assert service.answers(VERIFY, 429) == 0
    assert connector.pacer.waits >= 1


async def test_an_agreed_quota_replaces_the_five_a_second(
    service: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    # given: the service raised the hub's quota, and the policy says so
    set_rate_limit(service.url, 1000)
    graduate = people["graduate_bachelor"]
    async with aiohttp.ClientSession() as session:
        raised = CredentialsConnector(
            session, policy("credentials", service.url, app_calls_per_second=1000)
        )
        # when
        found = await asyncio.gather(
            *(raised.verify(graduate["cert_no"], graduate["name"]) for _ in range(8))
        )
    # then: eight at once go out without waiting for a slot
    assert all(answer.valid for answer in found)
    assert raised.pacer.per_second == 1000 and raised.pacer.waits == 0
    assert service.answers(VERIFY, 200) == 8


async def test_a_429_is_retried_after_retry_after(
    connector: CredentialsConnector, service: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    # given a service that allows 2 calls a second (other callers share the quota)
    set_rate_limit(service.url, 2)
    graduate = people["graduate_master"]
    found = await asyncio.gather(
        *(connector.verify(graduate["cert_no"], graduate["name"]) for _ in range(5))
    )
    assert all(answer.valid for answer in found)
    assert service.answers(VERIFY, 429) >= 3
    assert service.answers(VERIFY, 200) == 5


async def test_a_wrong_key_is_rejected(service: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = policy("credentials", service.url, credentials={"api_key": "nope"})
        with pytest.raises(UpstreamRejected) as refused:
            await CredentialsConnector(session, wrong).verify("1", "张三")
    assert refused.value.code == "401"
    with pytest.raises(ValueError):
        await CredentialsConnector(session, wrong).verify(" ", "张三")
