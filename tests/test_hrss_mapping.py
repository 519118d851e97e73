"""人社 mapping on samples: the envelope, camelCase records, strictness."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.errors import UpstreamPayloadError
from connectors.hrss import mapping
from connectors.hrss.models import InsuranceStatus


def insured(**changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "idNo": "440303199102236689",
        "name": "萧敏强",
        "insuredSince": "2013-02-23",
        "unitName": "华润置地",
        "months": 150,
        "status": "正常参保",
    }
    record.update(changes)
    return record


def test_an_insurance_record() -> None:
    record = mapping.insurance(insured())
    assert record.insured_since == date(2013, 2, 23)
    assert record.status is InsuranceStatus.PAYING
    assert mapping.insurance(insured(unitName=None, status="退休")).unit_name is None


@pytest.mark.parametrize(
    "changes", [{"months": -1}, {"status": "unknown"}, {"insuredSince": "2013-02-30"}, {"idNo": 1}]
)
def test_a_broken_record_is_a_payload_error(changes: dict[str, Any]) -> None:
    with pytest.raises(UpstreamPayloadError):
        mapping.insurance(insured(**changes))


def test_the_envelope_and_retirement() -> None:
    answer = mapping.envelope({"code": "1004", "msg": "未查询到参保信息", "data": None})
    assert (answer.code, answer.data) == ("1004", None)
    with pytest.raises(UpstreamPayloadError):
        mapping.envelope({"msg": "no code"})
    retired = mapping.retirement(
        {"idNo": "x", "retired": True, "retireDate": "2016-12-03", "pensionFen": 466316}
    )
    assert retired.retire_date == date(2016, 12, 3) and retired.pension_fen == 466316
    working = mapping.retirement({"idNo": "x", "retired": False, "retireDate": None})
    assert (working.retired, working.retire_date, working.pension_fen) == (False, None, None)
