"""The WeChat service-account mock over real HTTP: token lifetimes and overlap on the admin
clock, errcodes in an HTTP 200, template data rules, and openids that find their person."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest

from mocks.common import people
from mocks.common.population import Population, follows, id_number_of_openid, openid_of
from tests.gov import fresh_admin, start_mock
from tests.messaging import reset, set_clock
from tests.support import BackgroundMocks, MockAdmin

APPID, SECRET = "wx-ihub-luohu", "dev-wechat-secret"
FOLLOWER = openid_of(
    next(people.id_number(n) for n in range(1, 100) if follows(people.id_number(n)))
)
DATA = {
    "thing1": {"value": "高龄老人补贴"},
    "thing2": {"value": "年满70周岁"},
    "time3": {"value": "2027-01-27"},
}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = start_mock("wechat", tmp_path_factory)
    yield mocks
    mocks.close()


@pytest.fixture
def wechat(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = fresh_admin(running.urls["wechat"])
    reset(admin.url)
    yield admin
    admin.clear_faults()
    reset(admin.url)


def token(wechat: MockAdmin, **query: str) -> dict[str, Any]:
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **query}
    response = httpx.get(f"{wechat.url}/cgi-bin/token", params=params)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


def send(wechat: MockAdmin, access_token: str, **changes: Any) -> dict[str, Any]:
    body = {"touser": FOLLOWER, "template_id": "ihub-offer-notice", "data": DATA, **changes}
    response = httpx.post(
        f"{wechat.url}/cgi-bin/message/template/send",
        params={"access_token": access_token},
        json=body,
    )
    assert response.status_code == 200, "WeChat answers every error with HTTP 200"
    answer: dict[str, Any] = response.json()
    return answer


def test_token_errors(wechat: MockAdmin) -> None:
    assert token(wechat, grant_type="password")["errcode"] == 40002
    assert token(wechat, appid="wx-other")["errcode"] == 40013
    assert token(wechat, secret="nope")["errcode"] == 40125
    granted = token(wechat)
    assert granted["expires_in"] == 7200 and "errcode" not in granted


def test_a_new_token_ends_the_old_one_five_minutes_later(wechat: MockAdmin) -> None:
    old = token(wechat)["access_token"]
    new = token(wechat)["access_token"]
    set_clock(wechat.url, advance_s=299)
    assert send(wechat, old)["errcode"] == 0
    set_clock(wechat.url, advance_s=2)
    refused = send(wechat, old)
    assert refused["errcode"] == 40001 and " rid: " in refused["errmsg"]
    assert send(wechat, new)["errcode"] == 0
    set_clock(wechat.url, advance_s=7200)
    assert send(wechat, new)["errcode"] == 42001
    assert send(wechat, "made-up")["errcode"] == 40001


def test_template_data_must_fill_every_key_within_its_length(wechat: MockAdmin) -> None:
    value = token(wechat)["access_token"]
    assert send(wechat, value, data={"thing1": {"value": "x"}})["errcode"] == 47003
    too_long = {**DATA, "thing1": {"value": "高" * 21}}
    assert send(wechat, value, data=too_long)["errcode"] == 47003
    assert send(wechat, value, template_id="nope")["errcode"] == 40037
    assert send(wechat, value, touser="oNOTANOPENID")["errcode"] == 40003
    accepted = send(wechat, value)
    assert accepted["errmsg"] == "ok" and isinstance(accepted["msgid"], int)
    assert len(httpx.get(f"{wechat.url}/__admin/outbox").json()["messages"]) == 1


def test_the_quota_counts_sends_per_day_on_the_admin_clock(wechat: MockAdmin) -> None:
    assert httpx.post(f"{wechat.url}/__admin/quota", json={"daily": -1}).status_code == 400
    httpx.post(f"{wechat.url}/__admin/quota", json={"daily": 1}).raise_for_status()
    set_clock(wechat.url, now="2026-11-27T23:00:00+08:00")
    value = token(wechat)["access_token"]
    assert send(wechat, value)["errcode"] == 0
    assert send(wechat, value)["errcode"] == 45009
    set_clock(wechat.url, advance_s=3600)
    assert send(wechat, value)["errcode"] == 0


def test_openids_find_their_person_and_about_sixty_percent_follow() -> None:
    population = Population(seed=20261127, as_of=date(2026, 12, 3))
    everyone = [population.adult(n) for n in range(1, 1001)] + list(population.cases().values())
    persons = list({p.id_number: p for p in everyone}.values())  # resident cases are adults
    for person in persons:
        openid = openid_of(person.id_number)
        assert len(openid) == 25 and openid.startswith("o")
        assert id_number_of_openid(openid) == person.id_number
    assert len({openid_of(p.id_number) for p in persons}) == len(persons)
    share = sum(follows(p.id_number) for p in persons) / len(persons)
    assert 0.5 < share < 0.7
    assert id_number_of_openid("o" + "A" * 24) is None
