"""Civil ledger mapping on samples: fen as strings (v2) or integers, yyyy-MM months."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.civil import mapping
from connectors.civil.models import EntitlementStatus
from connectors.errors import UpstreamPayloadError


def sample(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "entitlement_id": "EN0000000001",
        "allowance_code": "GLJT",
        "since": "2026-12",
        "amount_fen": "20000",
        "status": "ACTIVE",
    }
    entry.update(changes)
    return entry


def test_fen_strings_are_parsed() -> None:
    entry = mapping.entitlement(sample())
    assert entry.amount_fen == 20000
    assert entry.since == date(2026, 12, 1)
    assert entry.status is EntitlementStatus.ACTIVE
    assert mapping.entitlement(sample(amount_fen=30000)).amount_fen == 30000


@pytest.mark.parametrize("amount", ["200.00", "-1", "", "２００", None, True, -5, 1.5])
def test_an_amount_that_is_not_fen_is_a_payload_error(amount: object) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.entitlement(sample(amount_fen=amount))


@pytest.mark.parametrize("since", ["2026-13", "202612", "2026-1", "26-12"])
def test_a_month_that_is_not_yyyy_mm_is_a_payload_error(since: str) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.entitlement(sample(since=since))


def test_unknown_status_and_lists() -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.entitlement(sample(status="PAUSED"))
    assert mapping.entitlements({"entitlements": []}) == ()
    assert mapping.format_month(date(2027, 1, 1)) == "2027-01"


def test_grants_and_care_assessments() -> None:
    granted = mapping.granted({"entitlement_id": "EN1", "status": "ACTIVE"})
    assert granted.status is EntitlementStatus.ACTIVE
    found = mapping.care_assessment(
        {"id_number": "x", "assessment": {"level": 3, "assessed_on": "2026-05-29"}}
    )
    assert found is not None and (found.level, found.assessed_on) == (3, date(2026, 5, 29))
    assert mapping.care_assessment({"id_number": "x", "assessment": None}) is None
    with pytest.raises(UpstreamPayloadError):
        mapping.care_assessment({"assessment": {"level": 5, "assessed_on": "2026-05-29"}})
