"""The WeChat connector against the real service-account mock over loopback: one token for
every send, exactly one renewal when a newer token ended it, and 43004 / 45009 / 40037 /
40003 as typed refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest

from connectors.errors import Refused, UpstreamRejected
from connectors.wechat import (
    InvalidCode,
    NotFollowing,
    QuotaReached,
    UnknownOpenid,
    UnknownTemplate,
    WeChatConnector,
)
from mocks.common.people import id_number
from mocks.common.population import follows, openid_of
from tests.gov import fresh_admin, policy, start_mock
from tests.messaging import admin_post, outbox, reset, set_clock
from tests.support import BackgroundMocks, MockAdmin

TOKEN = "GET /cgi-bin/token"
SEND = "POST /cgi-bin/message/template/send"
SHANGHAI = timezone(timedelta(hours=8))
OFFER = {"thing1": "高龄老人补贴", "thing2": "您将年满70周岁", "time3": "2027-01-27"}
RESIDENTS = [id_number(n) for n in range(1, 101)]
FOLLOWER = openid_of(next(i for i in RESIDENTS if follows(i)))
FOLLOWERS = [openid_of(i) for i in RESIDENTS if follows(i)][:5]
STRANGER = openid_of(next(i for i in RESIDENTS if not follows(i)))


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("wechat", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def wechat(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["wechat"])
    reset(admin.url)
    set_clock(admin.url, now="2026-11-27T10:00:00+08:00")
    yield admin
    admin.clear_faults()
    reset(admin.url)


@pytest.fixture
async def connector(wechat: MockAdmin) -> AsyncIterator[WeChatConnector]:
    async with aiohttp.ClientSession() as session:
        yield WeChatConnector(session, policy("wechat", wechat.url))


async def offer(connector: WeChatConnector, openid: str = FOLLOWER) -> str:
    return await connector.send_template(
        openid=openid, template="ihub-offer-notice", data=OFFER, url="https://i.luohu.gov.cn/o/1"
    )


async def test_a_template_message_reaches_a_follower(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    msgid = await offer(connector)
    [message] = outbox(wechat.url)
    assert str(message["msgid"]) == msgid
    assert (message["touser"], message["template_id"], message["data"]) == (
        FOLLOWER,
        "ihub-offer-notice",
        OFFER,
    )
    assert message["url"] == "https://i.luohu.gov.cn/o/1"
    assert (wechat.calls(TOKEN), wechat.calls(SEND)) == (1, 1)


async def test_one_token_serves_every_send(connector: WeChatConnector, wechat: MockAdmin) -> None:
    found = await asyncio.gather(*(offer(connector, openid) for openid in FOLLOWERS))
    assert len(set(found)) == len(FOLLOWERS)
    assert wechat.calls(TOKEN) == 1
    assert connector.tokens.fetches == 1


async def test_a_token_ended_by_a_newer_one_costs_exactly_one_more_token_call(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    await offer(connector)
    # given another server of the same app fetched a token: ours works five minutes more
    admin_post(wechat.url, "tokens/rotate")
    await offer(connector)
    assert wechat.calls(TOKEN) == 1
    set_clock(wechat.url, advance_s=301)
    # when several sends find it refused (40001) at once
    found = await asyncio.gather(*(offer(connector, openid) for openid in FOLLOWERS))
    # then one renewal served them all, and each was sent once more and answered
    assert len(found) == len(FOLLOWERS)
    assert wechat.calls(TOKEN) == 2
    assert connector.tokens.fetches == 2
    assert wechat.calls(SEND) == 2 + 2 * len(FOLLOWERS)
    assert len(outbox(wechat.url)) == 2 + len(FOLLOWERS)


async def test_an_expired_token_is_renewed_once(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    await offer(connector)
    set_clock(wechat.url, advance_s=7201)  # the mock's two hours pass; our clock did not move
    await offer(connector)
    assert wechat.calls(TOKEN) == 2
    assert len(outbox(wechat.url)) == 2


async def test_a_person_who_does_not_follow_is_refused(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    with pytest.raises(NotFollowing) as refused:
        await offer(connector, STRANGER)
    assert isinstance(refused.value, Refused) and refused.value.code == "NOT_FOLLOWING"
    # once they follow, the same message goes through
    follow = {"openid": STRANGER, "follows": True}
    admin_post(wechat.url, "followers", follow)
    await offer(connector, STRANGER)
    assert [m["touser"] for m in outbox(wechat.url)] == [STRANGER]


async def test_the_daily_quota_refuses_until_midnight(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    admin_post(wechat.url, "quota", {"daily": 2})
    await offer(connector, FOLLOWERS[0])
    await offer(connector, FOLLOWERS[1])
    connector.now = lambda: datetime(2026, 11, 27, 22, 30, tzinfo=SHANGHAI)
    with pytest.raises(QuotaReached) as reached:
        await offer(connector, FOLLOWERS[2])
    assert (reached.value.code, reached.value.retry_after_s) == ("QUOTA_REACHED", 5400.0)
    set_clock(wechat.url, now="2026-11-28T00:00:05+08:00")
    await offer(connector, FOLLOWERS[2])
    assert len(outbox(wechat.url)) == 3


async def test_an_unknown_template_or_openid_is_a_typed_error(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    with pytest.raises(UnknownTemplate) as unknown:
        await connector.send_template(openid=FOLLOWER, template="tpl-nope", data=OFFER)
    assert (unknown.value.template, unknown.value.code) == ("tpl-nope", "40037")
    with pytest.raises(UnknownOpenid):
        await offer(connector, "o" + "x" * 24)
    with pytest.raises(UpstreamRejected) as bad:
        await connector.send_template(
            openid=FOLLOWER, template="ihub-offer-notice", data={"thing1": "高龄老人补贴"}
        )
    assert bad.value.code == "47003"
    assert outbox(wechat.url) == []
    assert wechat.calls(TOKEN) == 1, "no refusal of the message renews the token"


async def test_a_wrong_secret_is_rejected(wechat: MockAdmin) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = WeChatConnector(session, policy("wechat", wechat.url, credentials={"secret": "x"}))
        with pytest.raises(UpstreamRejected) as refused:
            await offer(wrong)
    assert refused.value.code == "40125"
    assert wechat.calls(SEND) == 0


OAUTH = "GET /sns/oauth2/access_token"


async def test_a_page_code_gives_its_user_s_openid_once(
    connector: WeChatConnector, wechat: MockAdmin
) -> None:
    # given a resident who opened the service account's page: WeChat's one-time code
    person = RESIDENTS[3]
    code = admin_post(wechat.url, "oauth-code", {"id_number": person})["code"]
    # then the code gives their openid, in one call
    assert await connector.openid_for_code(code) == openid_of(person)
    assert wechat.calls(OAUTH) == 1
    # and a code used, unknown or past its five minutes is refused, each in one call
    with pytest.raises(InvalidCode):
        await connector.openid_for_code(code)
    with pytest.raises(InvalidCode):
        await connector.openid_for_code("no-such-code")
    late = admin_post(wechat.url, "oauth-code", {"id_number": person})["code"]
    set_clock(wechat.url, advance_s=301)
    with pytest.raises(InvalidCode):
        await connector.openid_for_code(late)
    assert wechat.calls(OAUTH) == 4, "a code is good once: never retried"
