"""The civil-affairs connector against the real ledger mock: tokens shared and renewed,
idempotent grants, ALREADY_ENTITLED as a typed refusal, fen strings, care assessments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import aiohttp
import httpx
import pytest

from connectors.civil import CivilConnector
from connectors.civil.models import AllowanceGrant, EntitlementStatus
from connectors.errors import Refused, UpstreamPayloadError, UpstreamRejected
from tests.gov import cases, fresh_admin, policy, start_mock
from tests.support import BackgroundMocks, MockAdmin

ALLOWANCES = "GET /civil/v2/allowances"
GRANTS = "POST /civil/v2/allowances"
TOKEN = "POST /auth/token"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("civil", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def civil(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["civil"])
    yield admin
    admin.clear_faults()


@pytest.fixture(scope="module")
def people(running: BackgroundMocks) -> dict[str, dict[str, Any]]:
    return cases(running.urls["civil"])


@pytest.fixture
async def connector(civil: MockAdmin) -> AsyncIterator[CivilConnector]:
    async with aiohttp.ClientSession() as session:
        yield CivilConnector(session, policy("civil", civil.url))


def instruction(id_number: str, request_id: str, **changes: Any) -> AllowanceGrant:
    fields: dict[str, Any] = {
        "allowance_code": "GLJT",
        "id_number": id_number,
        "start_month": date(2026, 12, 1),
        "amount_fen": 20000,
        "decision_ref": "DEC-0001",
        "request_id": request_id,
    }
    fields.update(changes)
    return AllowanceGrant(**fields)


def revoke_tokens(civil: MockAdmin) -> None:
    httpx.post(f"{civil.url}/__admin/tokens/revoke").raise_for_status()


def tokens_issued(civil: MockAdmin) -> int:
    return int(httpx.get(f"{civil.url}/__admin/tokens").json()["issued"])


async def test_one_token_serves_every_call(
    connector: CivilConnector, civil: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    before = tokens_issued(civil)
    ids = [people[name]["id_number"] for name in ("care_level_1", "care_level_2")]
    await asyncio.gather(*(connector.entitlements(i) for i in ids * 3))
    assert tokens_issued(civil) == before + 1
    assert civil.calls(TOKEN) == 1
    assert connector.tokens.fetches == 1


async def test_a_revoked_token_is_renewed_once_and_the_call_sent_again(
    connector: CivilConnector, civil: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["elderly_already_entitled"]["id_number"]
    await connector.entitlements(id_number)
    revoke_tokens(civil)
    # when the next calls find their token refused
    found = await asyncio.gather(*(connector.entitlements(id_number) for _ in range(3)))
    # then one renewal served them all, and each was answered
    assert connector.tokens.fetches == 2
    assert civil.calls(TOKEN) == 2
    assert all(entries and entries[0].allowance_code == "GLJT" for entries in found)
    assert civil.answers(ALLOWANCES, 401) >= 1


async def test_a_token_is_renewed_before_it_expires_without_a_refusal(
    civil: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    now = [0.0]
    id_number = people["care_level_3"]["id_number"]
    async with aiohttp.ClientSession() as session:
        connector = CivilConnector(session, policy("civil", civil.url), clock=lambda: now[0])
        await connector.entitlements(id_number)
        now[0] += 7200 - 300 - 1  # still inside the lifetime less the renewal margin
        await connector.entitlements(id_number)
        assert connector.tokens.fetches == 1
        now[0] += 2  # within five minutes of the two hours: renewed before the ledger refuses
        await connector.entitlements(id_number)
    assert connector.tokens.fetches == 2
    assert civil.calls(TOKEN) == 2
    assert civil.answers(ALLOWANCES, 401) == 0


async def test_wrong_client_credentials_are_rejected(civil: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = policy("civil", civil.url, credentials={"client_secret": "nope"})
        with pytest.raises(UpstreamRejected) as refused:
            await CivilConnector(session, wrong).entitlements("440303195612039011")
    assert refused.value.code == "invalid_client"


async def test_amounts_in_fen_strings_become_integers(
    connector: CivilConnector, people: dict[str, dict[str, Any]]
) -> None:
    entitled = people["elderly_already_entitled"]
    [entry] = await connector.entitlements(entitled["id_number"])
    assert entry.amount_fen == 30000  # the ledger said "30000": aged 80–89, ¥300 a month
    assert entry.status is EntitlementStatus.ACTIVE
    assert entry.since.day == 1
    assert await connector.entitlements(people["turns_70_tomorrow"]["id_number"]) == ()


async def test_the_same_request_id_gets_the_first_answer_and_one_entitlement(
    connector: CivilConnector, civil: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["turns_70_today"]["id_number"]
    first = await connector.grant(instruction(id_number, "decision-70-today-1"))
    again = await connector.grant(instruction(id_number, "decision-70-today-1"))
    assert again == first and first.status is EntitlementStatus.ACTIVE
    entries = [e for e in await connector.entitlements(id_number) if e.allowance_code == "GLJT"]
    assert [e.entitlement_id for e in entries] == [first.entitlement_id]
    assert entries[0].amount_fen == 20000
    # a second application (another request_id) for the active entitlement is refused
    with pytest.raises(Refused) as refused:
        await connector.grant(instruction(id_number, "decision-70-today-2"))
    assert refused.value.code == "ALREADY_ENTITLED"
    assert civil.calls(GRANTS) == 3


async def test_concurrent_grants_with_one_request_id_write_once(
    connector: CivilConnector, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["turns_80_today"]["id_number"]
    answers = await asyncio.gather(
        *(
            connector.grant(instruction(id_number, "decision-80-today", amount_fen=30000))
            for _ in range(10)
        )
    )
    assert len(set(answers)) == 1
    entries = [e for e in await connector.entitlements(id_number) if e.allowance_code == "GLJT"]
    assert len(entries) == 1


async def test_already_entitled_is_a_typed_refusal(
    connector: CivilConnector, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["elderly_already_entitled"]["id_number"]
    with pytest.raises(Refused) as refused:
        await connector.grant(instruction(id_number, "decision-entitled-1", amount_fen=30000))
    assert (refused.value.code, refused.value.department) == ("ALREADY_ENTITLED", "civil")
    assert refused.value.message  # fit to show


async def test_a_dead_person_is_not_paid(
    connector: CivilConnector, people: dict[str, dict[str, Any]]
) -> None:
    with pytest.raises(Refused) as refused:
        await connector.grant(instruction(people["dead_aged_85"]["id_number"], "decision-dead-1"))
    assert refused.value.code == "PERSON_DECEASED"


async def test_a_grant_whose_answer_was_lost_is_sent_again_and_written_once(
    connector: CivilConnector, civil: MockAdmin, people: dict[str, dict[str, Any]]
) -> None:
    id_number = people["turns_90_today"]["id_number"]
    await connector.entitlements(id_number)  # the token first
    # given a ledger that writes the entitlement but whose answer arrives broken
    civil.faults(garbage_body=True)
    with pytest.raises(UpstreamPayloadError):
        await connector.grant(instruction(id_number, "decision-90-today", amount_fen=50000))
    civil.clear_faults()
    # when the hub sends the same instruction again
    granted = await connector.grant(instruction(id_number, "decision-90-today", amount_fen=50000))
    # then it gets the first answer, and the person has one entitlement
    entries = [e for e in await connector.entitlements(id_number) if e.allowance_code == "GLJT"]
    assert [e.entitlement_id for e in entries] == [granted.entitlement_id]
    assert civil.calls(GRANTS) == 2


async def test_care_assessment_levels_and_none(
    connector: CivilConnector, people: dict[str, dict[str, Any]]
) -> None:
    for level in range(5):
        found = await connector.care_assessment(people[f"care_level_{level}"]["id_number"])
        assert found is not None and found.level == level
    assert await connector.care_assessment(people["care_not_assessed"]["id_number"]) is None
