"""The SMS and WeChat payload mappings on samples, no server: callbacks by type, strict
fields, the limit's scope from the operator's message, and the time left until midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from connectors.errors import UpstreamPayloadError
from connectors.sms import SmsReport, SmsUplink
from connectors.sms import mapping as sms
from connectors.sms.client import limit_scope, seconds_to_midnight
from connectors.tokens import Grant
from connectors.wechat import mapping as wechat

SHANGHAI = timezone(timedelta(hours=8))
REPORT = {
    "type": "SmsReport",
    "phone_number": "13800138000",
    "biz_id": "1764208800000000001^0",
    "out_id": "GLJT-1",
    "success": True,
    "err_code": "DELIVERED",
    "report_time": "2026-11-27 10:00:05",
    "unknown_field": 1,
}
UPLINK = {
    "type": "SmsUp",
    "phone_number": "13800138000",
    "content": "同意",
    "sequence_id": 880001,
    "send_time": "2026-11-27 10:03:00",
}


def test_callbacks_are_read_by_type() -> None:
    report = sms.callback(REPORT)
    assert report == SmsReport(
        "GLJT-1",
        "1764208800000000001^0",
        "13800138000",
        True,
        "DELIVERED",
        datetime(2026, 11, 27, 10, 0, 5, tzinfo=SHANGHAI),
    )
    assert sms.callback(UPLINK) == SmsUplink(
        "13800138000", "同意", "880001", datetime(2026, 11, 27, 10, 3, tzinfo=SHANGHAI)
    )


@pytest.mark.parametrize(
    "payload",
    [
        {**REPORT, "type": "SmsOther"},
        {k: v for k, v in REPORT.items() if k != "biz_id"},
        {**REPORT, "success": "true"},
        {**REPORT, "report_time": "2026-11-27T10:00:05"},
        {**UPLINK, "sequence_id": "880001"},
        [REPORT],
    ],
)
def test_a_callback_that_breaks_the_contract_is_a_payload_error(payload: object) -> None:
    with pytest.raises(UpstreamPayloadError):
        sms.callback(payload)


def test_the_limit_scope_is_read_from_the_operators_message() -> None:
    assert limit_scope("触发分钟级流控Permits:1") == "minute"
    assert limit_scope("触发小时级流控Permits:5") == "hour"
    assert limit_scope("触发天级流控Permits:10") == "day"
    assert limit_scope("") == "minute"


def test_seconds_to_midnight_count_in_shanghai() -> None:
    assert seconds_to_midnight(datetime(2026, 11, 27, 23, 0, tzinfo=SHANGHAI)) == 3600
    assert seconds_to_midnight(datetime(2026, 11, 27, 15, 0, tzinfo=UTC)) == 3600


def test_wechat_answers_and_token_grants() -> None:
    assert wechat.answer({"errcode": 0, "errmsg": "ok", "msgid": 42}).msgid == "42"
    refused = wechat.answer({"errcode": 43004, "errmsg": "require subscribe rid: x"})
    assert (refused.errcode, refused.msgid) == (43004, None)
    with pytest.raises(UpstreamPayloadError):
        wechat.answer({"errcode": 0, "errmsg": "ok"})
    granted = wechat.grant({"access_token": "t", "expires_in": 7200})
    assert isinstance(granted, Grant) and granted.expires_in == 7200
    assert isinstance(
        wechat.grant({"errcode": 40125, "errmsg": "invalid appsecret"}), wechat.Answer
    )
