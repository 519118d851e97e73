"""Credential-verification mapping: ``valid: false`` alone, or the degree's details."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.credentials import mapping
from connectors.credentials.models import DegreeLevel
from connectors.errors import UpstreamPayloadError

VALID = {
    "valid": True,
    "cert_no": "105902026050000058",
    "school": "深圳大学",
    "degree": "本科",
    "major": "建筑学",
    "graduation_date": "2026-06-30",
    "full_time": True,
}


def test_a_valid_certificate() -> None:
    found = mapping.verification(VALID, "105902026050000058")
    assert found.valid and found.credential is not None
    assert found.credential.degree is DegreeLevel.BACHELOR
    assert found.credential.graduation_date == date(2026, 6, 30)


def test_not_valid_carries_nothing_else() -> None:
    found = mapping.verification({"valid": False}, "105902026050000058")
    assert (found.valid, found.credential) == (False, None)


@pytest.mark.parametrize(
    "changes",
    [{"degree": "学士"}, {"school": None}, {"graduation_date": "2026/06/30"}, {"valid": 1}],
)
def test_a_broken_answer_is_a_payload_error(changes: dict[str, object]) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.verification({**VALID, **changes}, "x")
