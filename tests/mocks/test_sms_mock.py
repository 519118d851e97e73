"""The SMS gateway mock over real HTTP: its signature rules, errors in an HTTP 200, the
admin clock, and callbacks delivered at least once, held for reordering, or dropped."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mocks.sms.gateway import APPS
from mocks.sms.signing import request_text, sign
from tests.gov import fresh_admin, start_mock
from tests.messaging import admin_get, receiver, reset, set_callback, set_clock
from tests.support import BackgroundMocks, MockAdmin

APP = "ihub-luohu"
MESSAGE = {
    "app_id": APP,
    "sign_name": "i罗湖",
    "template_code": "SMS_OFFER_GENERIC",
    "phone": "13800000001",
    "params": {"name": "张伟", "item": "计划生育奖励"},
    "out_id": "FP-1",
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("sms", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def gateway(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["sms"])
    reset(admin.url)
    yield admin
    admin.clear_faults()
    reset(admin.url)


def post(
    gateway: MockAdmin,
    message: dict[str, Any] | bytes,
    *,
    secret: str = APPS[APP],
    timestamp: int | None = None,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    stamp = str(int(time.time() * 1000) if timestamp is None else timestamp)
    nonce = nonce or f"nonce-{time.perf_counter_ns()}"
    signed = {
        "X-Sms-Timestamp": stamp,
        "X-Sms-Nonce": nonce,
        "X-Sms-Signature": sign(secret, request_text("POST", "/sms/send", stamp, nonce, body)),
    }
    return httpx.post(
        f"{gateway.url}/sms/send", content=body, headers=signed if headers is None else headers
    )


def code(response: httpx.Response) -> str:
    assert response.status_code == 200, "the gateway answers every refusal with HTTP 200"
    found: str = response.json()["code"]
    return found


def test_a_signed_message_is_accepted_and_its_nonce_only_once(gateway: MockAdmin) -> None:
    first = post(gateway, MESSAGE, nonce="n-once")
    assert code(first) == "OK" and first.json()["biz_id"].endswith("^0")
    set_clock(gateway.url, advance_s=61)
    assert code(post(gateway, MESSAGE, nonce="n-once")) == "SignatureNonceUsed"


def test_signature_refusals(gateway: MockAdmin) -> None:
    assert code(post(gateway, MESSAGE, headers={})) == "SignatureDoesNotMatch"
    assert code(post(gateway, MESSAGE, secret="wrong")) == "SignatureDoesNotMatch"
    stale = int(time.time() * 1000) - 6 * 60 * 1000
    assert code(post(gateway, MESSAGE, timestamp=stale)) == "InvalidTimeStamp.Expired"
    assert code(post(gateway, {**MESSAGE, "app_id": "other"})) == "InvalidAccessKeyId.NotFound"
    assert code(post(gateway, b"not json")) == "isv.INVALID_PARAMETERS"
    # the body signed is the body checked: a changed phone breaks the signature
    body = json.dumps(MESSAGE).encode()
    stamp, nonce = str(int(time.time() * 1000)), "n-tamper"
    signature = sign(APPS[APP], request_text("POST", "/sms/send", stamp, nonce, body))
    tampered = body.replace(b"13800000001", b"13800000002")
    headers = {"X-Sms-Timestamp": stamp, "X-Sms-Nonce": nonce, "X-Sms-Signature": signature}
    assert code(post(gateway, tampered, headers=headers)) == "SignatureDoesNotMatch"
    assert admin_get(gateway.url, "outbox")["messages"] == []


def test_the_limits_follow_the_admin_clock(gateway: MockAdmin) -> None:
    set_clock(gateway.url, now="2026-11-27T23:59:00+08:00")
    assert code(post(gateway, MESSAGE)) == "OK"
    limited = post(gateway, MESSAGE)
    assert code(limited) == "isv.BUSINESS_LIMIT_CONTROL"
    assert "分钟级" in limited.json()["message"]
    assert set_clock(gateway.url, advance_s=60)["now"].startswith("2026-11-28T00:00")
    assert code(post(gateway, MESSAGE)) == "OK"


def test_the_admin_clock_refuses_what_it_cannot_read(gateway: MockAdmin) -> None:
    for body in ({}, {"advance_s": "1"}, {"now": "2026-11-27T10:00:00"}, {"later": 1}):
        assert httpx.post(f"{gateway.url}/__admin/clock", json=body).status_code == 400


async def test_a_refused_callback_is_delivered_again(gateway: MockAdmin) -> None:
    async with receiver() as webhook:
        webhook.refuse = 2
        set_callback(gateway.url, webhook.url)
        assert code(post(gateway, MESSAGE)) == "OK"
        [report] = await webhook.wait_for(1)
    assert json.loads(report.body)["type"] == "SmsReport"
    attempts = admin_get(gateway.url, "callbacks")["attempts"]
    assert [a["status"] for a in attempts] == [500, 500, 200]


async def test_callbacks_without_a_url_are_dropped(gateway: MockAdmin) -> None:
    assert code(post(gateway, MESSAGE)) == "OK"
    state = admin_get(gateway.url, "callbacks")
    assert (state["dropped"], state["attempts"]) == (1, [])


async def test_turning_reorder_off_releases_what_it_held(gateway: MockAdmin) -> None:
    async with receiver() as webhook:
        set_callback(gateway.url, webhook.url)
        gateway.faults(reorder=True)
        for phone in ("13800000011", "13800000012"):
            assert code(post(gateway, {**MESSAGE, "phone": phone})) == "OK"
        assert admin_get(gateway.url, "callbacks")["held"] == 2
        gateway.clear_faults()
        arrived = await webhook.wait_for(2)
    phones = [json.loads(r.body)["phone_number"] for r in arrived]
    assert phones == ["13800000012", "13800000011"]
