"""The SMS connector against the real gateway mock over loopback: signed sends, the per-phone
limits as typed refusals with their retry time, and the gateway's signed callbacks read back
(reports, replies) or refused (forged, tampered, stale)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

import aiohttp
import orjson
import pytest

from connectors.errors import Refused, UpstreamRejected
from connectors.sms import (
    ForgedCallback,
    InvalidPhone,
    SmsConnector,
    SmsLimited,
    SmsReport,
    SmsUplink,
    UnknownTemplate,
)
from connectors.sms.signing import callback_signature
from tests.gov import fresh_admin, policy, start_mock
from tests.messaging import (
    CallbackReceiver,
    admin_post,
    outbox,
    receiver,
    reset,
    set_callback,
    set_clock,
)
from tests.support import BackgroundMocks, MockAdmin

SEND = "POST /sms/send"
SHANGHAI = timezone(timedelta(hours=8))
MORNING = "2026-11-27T10:00:00+08:00"
OFFER = {"name": "郑国华", "birthday": "2027年1月27日", "amount": "200"}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("sms", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def sms(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["sms"])
    reset(admin.url)
    set_clock(admin.url, now=MORNING)
    yield admin
    admin.clear_faults()
    reset(admin.url)


@pytest.fixture
async def connector(sms: MockAdmin) -> AsyncIterator[SmsConnector]:
    async with aiohttp.ClientSession() as session:
        yield SmsConnector(session, policy("sms", sms.url))


@pytest.fixture
async def webhook(sms: MockAdmin) -> AsyncIterator[CallbackReceiver]:
    async with receiver() as found:
        set_callback(sms.url, found.url)
        yield found


async def offer(connector: SmsConnector, phone: str, out_id: str = "offer-1") -> str:
    receipt = await connector.send(
        phone=phone, template="SMS_ELDERLY_OFFER", params=OFFER, out_id=out_id
    )
    return receipt.biz_id


async def test_a_message_is_sent_signed_and_lands_in_the_outbox(
    connector: SmsConnector, sms: MockAdmin
) -> None:
    biz_id = await offer(connector, "13800138000", "GLJT-2026-000001")
    [message] = outbox(sms.url)
    assert message["biz_id"] == biz_id
    assert (message["phone"], message["template_code"], message["out_id"]) == (
        "13800138000",
        "SMS_ELDERLY_OFFER",
        "GLJT-2026-000001",
    )
    assert message["params"] == OFFER
    assert message["text"].startswith("【i罗湖】郑国华您好")
    assert sms.calls(SEND) == 1


async def test_a_second_message_within_a_minute_is_limited_for_a_minute(
    connector: SmsConnector, sms: MockAdmin
) -> None:
    await offer(connector, "13900000001")
    with pytest.raises(SmsLimited) as limited:
        await offer(connector, "13900000001")
    assert isinstance(limited.value, Refused) and limited.value.code == "SMS_LIMITED"
    assert (limited.value.scope, limited.value.retry_after_s) == ("minute", 60.0)
    await offer(connector, "13900000002")  # another phone is not limited
    set_clock(sms.url, advance_s=61)
    await offer(connector, "13900000001")
    assert [m["phone"] for m in outbox(sms.url)] == ["13900000001", "13900000002", "13900000001"]
    assert sms.calls(SEND) == 4, "one call each: a refusal is not retried"


async def test_the_eleventh_message_of_a_day_waits_until_midnight(
    connector: SmsConnector, sms: MockAdmin
) -> None:
    phone = "13700000011"
    for _ in range(10):
        await offer(connector, phone)
        set_clock(sms.url, advance_s=61)
    connector.now = lambda: datetime(2026, 11, 27, 20, 0, tzinfo=SHANGHAI)
    with pytest.raises(SmsLimited) as limited:
        await offer(connector, phone)
    assert (limited.value.scope, limited.value.retry_after_s) == ("day", 4 * 3600)
    set_clock(sms.url, now="2026-11-28T08:00:00+08:00")
    await offer(connector, phone)
    assert len(outbox(sms.url)) == 11


async def test_refusals_are_typed_and_sent_once(connector: SmsConnector, sms: MockAdmin) -> None:
    with pytest.raises(UnknownTemplate) as unknown:
        await connector.send(phone="13800138001", template="SMS_NOPE", params={}, out_id="x-1")
    assert (unknown.value.template, unknown.value.code) == ("SMS_NOPE", "isv.SMS_TEMPLATE_ILLEGAL")
    with pytest.raises(InvalidPhone):
        await offer(connector, "1380013800")
    with pytest.raises(UpstreamRejected) as missing:
        await connector.send(
            phone="13800138001", template="SMS_OFFER_GENERIC", params={"name": "张伟"}, out_id="x"
        )
    assert missing.value.code == "isv.TEMPLATE_MISSING_PARAMETERS"
    assert outbox(sms.url) == []
    assert sms.calls(SEND) == 3


async def test_a_wrong_secret_or_sign_name_is_rejected(sms: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = SmsConnector(session, policy("sms", sms.url, credentials={"app_secret": "nope"}))
        with pytest.raises(UpstreamRejected) as refused:
            await offer(wrong, "13800138002")
        assert refused.value.code == "SignatureDoesNotMatch"
        unsigned = SmsConnector(session, policy("sms", sms.url, credentials={"sign_name": "罗湖"}))
        with pytest.raises(UpstreamRejected) as refused:
            await offer(unsigned, "13800138002")
        assert refused.value.code == "isv.SMS_SIGNATURE_ILLEGAL"
    assert outbox(sms.url) == []


async def test_a_delivery_report_comes_back_signed_and_is_read(
    connector: SmsConnector, sms: MockAdmin, webhook: CallbackReceiver
) -> None:
    admin_post(sms.url, "undeliverable", {"phones": ["13600000002"]})
    delivered_id = await offer(connector, "13600000001", "out-delivered")
    failed_id = await offer(connector, "13600000002", "out-failed")
    first, second = await webhook.wait_for(2)
    report = connector.read_callback(first.headers, first.body)
    assert isinstance(report, SmsReport)
    assert (report.biz_id, report.out_id, report.phone) == (
        delivered_id,
        "out-delivered",
        "13600000001",
    )
    assert (report.delivered, report.error_code) == (True, "DELIVERED")
    reported = report.reported_at
    assert (reported.date().isoformat(), reported.hour, reported.utcoffset()) == (
        "2026-11-27",
        10,
        timedelta(hours=8),
    ), "the gateway's clock, in Shanghai"
    failure = connector.read_callback(second.headers, second.body)
    assert isinstance(failure, SmsReport)
    assert (failure.biz_id, failure.delivered) == (failed_id, False)
    assert failure.error_code not in ("", "DELIVERED")


async def test_a_residents_reply_comes_back_as_an_uplink(
    connector: SmsConnector, sms: MockAdmin, webhook: CallbackReceiver
) -> None:
    answer = admin_post(sms.url, "uplink", {"phone": "13500000001", "text": "同意"})
    [reply] = await webhook.wait_for(1)
    uplink = connector.read_callback(reply.headers, reply.body)
    assert isinstance(uplink, SmsUplink)
    assert (uplink.phone, uplink.text, uplink.uplink_id) == (
        "13500000001",
        "同意",
        answer["uplink_id"],
    )
    assert uplink.received_at.date() == datetime(2026, 11, 27).date()


async def test_forged_tampered_and_stale_callbacks_are_refused(
    connector: SmsConnector, sms: MockAdmin, webhook: CallbackReceiver
) -> None:
    admin_post(sms.url, "uplink", {"phone": "13500000002", "text": "同意"})
    [genuine] = await webhook.wait_for(1)
    assert isinstance(connector.read_callback(genuine.headers, genuine.body), SmsUplink)
    # the body changed after signing: another phone
    tampered = genuine.body.replace(b"13500000002", b"13500000003")
    with pytest.raises(ForgedCallback):
        connector.read_callback(genuine.headers, tampered)
    # signed by someone without the gateway's key
    timestamp = str(int(datetime.now().timestamp() * 1000))
    forged = {
        "X-Sms-Timestamp": timestamp,
        "X-Sms-Nonce": "n" * 32,
        "X-Sms-Signature": callback_signature("guessed-key", timestamp, "n" * 32, tampered),
    }
    with pytest.raises(ForgedCallback):
        connector.read_callback(forged, tampered)
    with pytest.raises(ForgedCallback):
        connector.read_callback({}, genuine.body)
    # the genuine callback replayed six minutes later
    later = connector.wall_clock_ms() + 6 * 60 * 1000
    connector.wall_clock_ms = lambda: later
    with pytest.raises(ForgedCallback):
        connector.read_callback(genuine.headers, genuine.body)


async def test_duplicated_and_reordered_callbacks_carry_the_same_ids(
    connector: SmsConnector, sms: MockAdmin, webhook: CallbackReceiver
) -> None:
    sms.faults(duplicate_callbacks=True, reorder=True)
    first = await offer(connector, "13400000001")
    second = await offer(connector, "13400000002")
    admin_post(sms.url, "uplink", {"phone": "13400000001", "text": "TD"})
    assert webhook.received == [], "held until flushed"
    admin_post(sms.url, "callbacks/flush")
    arrived = await webhook.wait_for(6)
    read = [connector.read_callback(r.headers, r.body) for r in arrived]
    keys = [c.uplink_id if isinstance(c, SmsUplink) else c.biz_id for c in read]
    uplink_id = keys[0]
    assert keys == [uplink_id, uplink_id, second, second, first, first], "newest first, twice"
    assert len({r.headers["X-Sms-Nonce"] for r in arrived}) == 6, "each delivery signed afresh"
    assert orjson.loads(arrived[0].body)["content"] == "TD"
