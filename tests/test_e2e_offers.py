"""主动推送 end to end: the hub scans the registry (the population mock), sends the offers
through the SMS gateway mock, reads its signed callbacks on ``/webhooks/sms`` and files the
秒批 application for ``同意`` — on SQLite and PostgreSQL.

Each test gets its own civil ledger (a mock of its own), a reset gateway whose callbacks go
to the hub's webhook, and a hub whose offers clock the test moves (``MovingClock``): it
starts on the population's ``as_of`` day, and 秒批's "today" follows it."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import httpx
import pytest
import redis
from sqlalchemy import Engine
from sqlmodel import Session, select
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from connectors.population import PopulationConnector
from hub.app import create_app
from hub.cli import offers as cli_offers
from hub.offers.broker import OfferBroker
from hub.offers.clock import SHANGHAI
from hub.offers.proactive import PROACTIVE
from hub.offers.scan import MemorySink, scan
from hub.settings import DEV_DEPARTMENTS, Settings
from hub.store.db import make_engine
from hub.store.models import (
    AccountLink,
    DecisionRecord,
    Offer,
    OfferDelivery,
    OfferOptOut,
    OfferScan,
    ReviewCase,
)
from hub.web.reviews import key_digest
from mocks.common import people
from mocks.common.population import follows, mobile_of, openid_of
from mocks.sms.gateway import CALLBACK_SIGNING_KEY
from mocks.sms.signing import callback_headers
from tests.gov import cases, policy, start_mock
from tests.messaging import set_callback, set_clock
from tests.offers_support import (
    WAIT_S,
    MovingClock,
    all_offers,
    deliveries_of,
    offers_of,
    outbox,
    wait_for,
)
from tests.serving import free_ports
from tests.support import BackgroundMocks, LiveHub, MockAdmin
from tests.test_shared_state import prefix, redis_url  # noqa: F401  (fixtures)

GRANTS = "POST /civil/v2/allowances"
CASE = "turns_70_in_two_months"
RESIDENT_OF_70 = "R000018"
"""A seeded resident of over 70 with the hukou in Luohu: offered the allowance (NOW)."""


@pytest.fixture
def database_url(fresh_database_url: str) -> str:
    """A fresh, empty database on each engine (``tests/conftest.py``)."""
    return fresh_database_url


@pytest.fixture
def civil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    running = start_mock("civil", tmp_path_factory)
    yield running
    running.close()


class Offers:
    """What a test drives: hubs on one database, the gateway, the clock, the case."""

    def __init__(
        self,
        mocks: BackgroundMocks,
        civil: BackgroundMocks,
        database_url: str,
        make_settings: Callable[..., Settings],
    ) -> None:
        self.sms_url = mocks.urls["sms"]
        self.population_url = mocks.urls["population"]
        self.sms = MockAdmin(self.sms_url)
        self.sms.clear_faults()
        self.sms.reset()
        # the gateway's own state: outbox, per-phone limits, held callbacks, clock
        httpx.post(f"{self.sms_url}/__admin/reset").raise_for_status()
        population = MockAdmin(mocks.urls["population"])
        population.clear_faults()
        found = httpx.get(f"{mocks.urls['population']}/__admin/cases").json()
        self.case = cases(mocks.urls["population"])[CASE]
        self.subject: str = self.case["id_number"]
        self.phone = mobile_of(self.subject)
        self.clock = MovingClock(datetime.fromisoformat(f"{found['as_of']}T10:00:00+08:00"))
        self.civil = MockAdmin(civil.urls["civil"])
        self.database_url = database_url
        self._civil_url = civil.urls["civil"]
        self._make_settings = make_settings
        self.hubs: list[LiveHub] = []
        self.engine: Engine = make_engine(database_url)

    def start(self, *, callbacks: bool = True, **overrides: Any) -> LiveHub:
        """A hub scanning the elderly allowance at once, its rounds every 50 ms; the
        gateway's callbacks go to the first hub started."""
        port = free_ports(1)
        if callbacks and not self.hubs:
            set_callback(self.sms_url, f"http://127.0.0.1:{port}/webhooks/sms")
        chosen: dict[str, Any] = {
            "database_url": self.database_url,
            "env": {"HUB_CIVIL_URL": self._civil_url},
            "offers_clock": self.clock,
            "offers_scan_s": 3600.0,
            "offers_dispatch_s": 0.05,
            "offers_items": ("elderly_allowance",),
            "offers_page_size": 200,
            "approvals_budget_s": 5.0,
            "approvals_recheck_s": 0.0,
        }
        settings = self._make_settings(**{**chosen, **overrides})
        hub = LiveHub(create_app(settings), port=port)
        self.settings = lambda **more: settings.with_changes(**more)
        self.hubs.append(hub)
        return hub

    def close(self) -> None:
        for hub in self.hubs:
            hub.close()
        self.engine.dispose()

    def scanned(self, hub: LiveHub) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            run = hub.client.get("/status").json()["offers"]["items"]["elderly_allowance"]
            last: dict[str, Any] | None = run["lastRun"]
            return last if last and last["finishedAt"] else None

        return wait_for("the scan finished", done)

    def uplink(self, text: str) -> None:
        answer = httpx.post(
            f"{self.sms_url}/__admin/uplink", json={"phone": self.phone, "text": text}
        )
        answer.raise_for_status()

    def the_offer(self) -> Any:
        found = offers_of(self.engine, self.subject)
        assert len(found) == 1, found
        return found[0]

    def entitlements(self) -> list[str]:
        known = DEV_DEPARTMENTS["civil"][1]
        credentials = {"grant_type": "client_credentials", "client_id": known["client_id"],
                       "client_secret": known["client_secret"]}  # fmt: skip
        token = httpx.post(f"{self._civil_url}/auth/token", data=credentials).json()
        ledger = httpx.get(
            f"{self._civil_url}/civil/v2/allowances",
            params={"id_number": self.subject},
            headers={"Authorization": "Bearer " + token["access_token"]},
        ).json()
        return [e["allowance_code"] for e in ledger["entitlements"]]


@pytest.fixture
def offers(
    mocks: BackgroundMocks,
    civil: BackgroundMocks,
    database_url: str,
    make_settings: Callable[..., Settings],
) -> Iterator[Offers]:
    driven = Offers(mocks, civil, database_url, make_settings)
    yield driven
    set_callback(driven.sms_url, None)  # first: no callback keeps a closing hub busy
    driven.sms.clear_faults()
    driven.close()


def signed_uplink(phone: str, text: str, sequence_id: int) -> tuple[bytes, dict[str, str]]:
    """An uplink as the gateway signs it (what a replayed capture would carry)."""
    body = json.dumps(
        {"type": "SmsUp", "phone_number": phone, "content": text, "sign_name": "i罗湖",
         "dest_code": "106903301", "sequence_id": sequence_id,
         "send_time": "2026-12-01 10:00:00"},
        ensure_ascii=False,
    ).encode()  # fmt: skip
    return body, callback_headers(CALLBACK_SIGNING_KEY, body)


def test_turning_70_one_sms_agree_approved_and_paid_once(offers: Offers) -> None:
    # given: the gateway duplicates every callback and holds them to deliver newest first
    offers.sms.faults(duplicate_callbacks=True, reorder=True)
    hub = offers.start()
    # when: the scan runs
    offers.scanned(hub)
    sent = wait_for("the offer SMS", lambda: outbox(offers.sms_url, offers.phone))
    # then: one SMS, the elderly allowance's, naming the 70th birthday
    assert [m["template_code"] for m in sent] == ["SMS_ELDERLY_OFFER"]
    offer = offers.the_offer()
    assert (offer.reason, offer.state, offer.resident_id) == ("UPCOMING", "OFFERED", None)
    assert sent[0]["out_id"] == str(deliveries_of(offers.engine, offer.id)[("sms", "offer")].id)
    # when: the resident replies 同意 twice; the callbacks come reordered and duplicated
    offers.uplink("同意")
    offers.uplink("同意")
    httpx.post(f"{offers.sms_url}/__admin/callbacks/flush").raise_for_status()
    # then: accepted once; not filed before the 70th birthday
    wait_for("accepted", lambda: offers.the_offer().state == "ACCEPTED")
    assert offers.the_offer().decision_id is None and offers.civil.calls(GRANTS) == 0
    wait_for(
        "the offer's report, out of order",
        lambda: deliveries_of(offers.engine, offer.id)[("sms", "offer")].state == "DELIVERED",
    )
    # when: the birthday comes
    offers.clock.advance(days=61)
    filed = wait_for("filed", lambda: offers.the_offer().decision_id)
    with Session(offers.engine) as session:
        decision = session.exec(
            select(DecisionRecord).where(DecisionRecord.decision_id == filed)
        ).one()
    # then: approved for the subject (through the hub resident heading the household), paid
    assert (decision.outcome, decision.subject, decision.amount_fen) == (
        "APPROVED", offers.subject, 20000,
    )  # fmt: skip
    assert offers.civil.calls(GRANTS) == 1 and offers.entitlements() == ["GLJT"]
    # the decision SMS meets the gateway's one-a-minute limit: deferred, not dropped
    back = wait_for(
        "the decision SMS deferred by the gateway's limit",
        lambda: (
            (d := deliveries_of(offers.engine, offer.id).get(("sms", "decision")))
            and d.state == "DEFERRED"
            and d
        ),
    )
    assert back.error == "limited (minute)"
    set_clock(offers.sms_url, advance_s=61)  # the gateway's minute first, then the hub's
    offers.clock.advance(seconds=61)
    messages = wait_for("the decision SMS", lambda: len(outbox(offers.sms_url, offers.phone)) == 2)
    assert messages
    texts = [m["text"] for m in outbox(offers.sms_url, offers.phone)]
    assert "已获批准" in texts[1] and "每月200元" in texts[1]
    # a replayed 同意 (the same signed uplink twice) and a late duplicate change nothing
    body, headers = signed_uplink(offers.phone, "同意", 990_001)
    for _ in range(2):
        assert hub.client.post("/webhooks/sms", content=body, headers=headers).status_code == 200
    httpx.post(f"{offers.sms_url}/__admin/callbacks/flush").raise_for_status()
    assert offers.civil.calls(GRANTS) == 1 and offers.entitlements() == ["GLJT"]
    assert len(offers_of(offers.engine, offers.subject)) == 1
    assert len(outbox(offers.sms_url, offers.phone)) == 2
    metrics = hub.client.get("/metrics").text
    assert 'ihub_offers_total{channel="sms",event="accepted",item="elderly_allowance"} 1.0' in (
        metrics
    )


def test_forged_webhook_is_401_and_changes_nothing(offers: Offers) -> None:
    hub = offers.start()
    offers.scanned(hub)
    wait_for("the offer SMS", lambda: outbox(offers.sms_url, offers.phone))
    body, headers = signed_uplink(offers.phone, "同意", 990_002)
    forged = {**headers, "X-Sms-Signature": "0" * 64}
    assert hub.client.post("/webhooks/sms", content=body, headers=forged).status_code == 401
    unsigned = {"Content-Type": "application/json"}
    assert hub.client.post("/webhooks/sms", content=body, headers=unsigned).status_code == 401
    changed = body.replace("同意".encode(), b"TD")
    assert hub.client.post("/webhooks/sms", content=changed, headers=headers).status_code == 401
    assert offers.the_offer().state == "OFFERED"
    with Session(offers.engine) as session:
        assert session.exec(select(OfferOptOut)).all() == []
    # an offer stands 90 days (then stored EXPIRED): a 同意 after that accepts nothing
    offers.clock.advance(days=91)
    wait_for("stored expired", lambda: offers.the_offer().state == "EXPIRED")
    offers.uplink("同意")
    wait_for("the reply handled", lambda: _answered(offers.sms_url, "SmsUp"))
    assert offers.the_offer().state == "EXPIRED" and offers.civil.calls(GRANTS) == 0


def _answered(sms_url: str, kind: str) -> bool:
    attempts = httpx.get(f"{sms_url}/__admin/callbacks").json()["attempts"]
    return any(a["type"] == kind and a.get("status") == 200 for a in attempts)


def test_quiet_hours_defer_and_td_opts_out(offers: Offers) -> None:
    # given: the scan runs at 22:00 in Shanghai
    offers.clock.advance(hours=12)
    hub = offers.start()
    offers.scanned(hub)
    offer = offers.the_offer()
    deferred = wait_for(
        "deferred to the morning",
        lambda: (
            (d := deliveries_of(offers.engine, offer.id)[("sms", "offer")]).state == "DEFERRED"
            and d
        ),
    )
    assert deferred.error == "quiet hours"
    morning = (offers.clock.now + timedelta(hours=10)).astimezone(UTC)
    assert deferred.not_before.replace(tzinfo=UTC) == morning  # 08:00 in Shanghai
    wait_for(
        "every SMS deferred",
        lambda: {d.state for d in _sms_deliveries(offers.engine)} == {"DEFERRED"},
    )
    assert outbox(offers.sms_url) == []
    # when: the resident answers TD (from the number the offer is for) before the morning
    offers.uplink("TD")
    wait_for("opted out", lambda: _opted_out(offers.engine, offers.subject))
    offers.clock.advance(hours=10)  # 08:00
    # then: the others get their SMS in the morning; the opted-out resident gets nothing
    wait_for(
        "the morning's SMS",
        lambda: any(d.state in ("SENT", "DELIVERED") for d in _sms_deliveries(offers.engine)),
    )
    wait_for(
        "skipped",
        lambda: deliveries_of(offers.engine, offer.id)[("sms", "offer")].state == "SKIPPED",
    )
    assert outbox(offers.sms_url, offers.phone) == []


def _sms_deliveries(engine: Engine) -> list[OfferDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(OfferDelivery).where(OfferDelivery.channel == "sms")))


def _opted_out(engine: Engine, subject: str) -> bool:
    with Session(engine) as session:
        return session.get(OfferOptOut, (subject, "sms")) is not None


def test_two_hubs_on_one_database_one_scan_one_sms(offers: Offers) -> None:
    first = offers.start()
    second = offers.start(callbacks=False)
    offers.scanned(first)
    wait_for("the offer SMS", lambda: outbox(offers.sms_url, offers.phone))
    offers.scanned(second)
    statuses = [
        h.client.get("/status").json()["offers"]["items"]["elderly_allowance"]
        for h in (first, second)
    ]
    assert statuses[0]["lastRun"] == statuses[1]["lastRun"]  # one run, in the database
    subjects = [o.subject for o in all_offers(offers.engine)]
    assert len(subjects) == len(set(subjects)) and offers.subject in subjects
    # every SMS sent, or deferred by the gateway's limits (a few persons share a number)
    wait_for(
        "all sent",
        lambda: all(d.state not in ("PENDING", "SENDING") for d in _sms_deliveries(offers.engine)),
    )
    assert len(outbox(offers.sms_url, offers.phone)) == 1
    out_ids = [m["out_id"] for m in outbox(offers.sms_url)]
    assert len(out_ids) == len(set(out_ids))  # no delivery sent by both hubs


MY_OFFERS = """{ me { offers { id item { code name } reason eligibleFrom expiresAt state } } }"""
ACCEPT = """mutation Accept($input: AcceptOfferInput!) { acceptOffer(input: $input) {
  offer { id state } application { itemCode decision { outcome monthlyAmount { fen } } }
  filedOn userErrors { code field } } }"""
CHANNEL = """mutation Channel($input: SetOfferChannelInput!) { setOfferChannel(input: $input) {
  channels { channel enabled } userErrors { code } } }"""


def test_app_offers_one_tap_accept_and_channels(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    hub = offers.start()
    offers.scanned(hub)
    mine = [o for o in all_offers(offers.engine) if o.resident_id and o.reason == "NOW"]
    assert mine, "hub residents of 70 and over are offered the allowance"
    offer = mine[0]
    token = token_for(offer.resident_id)
    # the app lists it
    listed = hub.graphql(MY_OFFERS, token=token).json()["data"]["me"]["offers"]
    assert [(o["id"], o["item"]["code"], o["reason"], o["state"]) for o in listed] == [
        (offer.id, "elderly_allowance", "NOW", "OFFERED")
    ]
    # one tap files the application: approved and paid (the civil ledger already pays a
    # few of them: their tap answers ALREADY_ENTITLED and pays nothing)
    first: dict[str, Any] = {}
    for n, candidate in enumerate(mine[:10]):
        variables = {"input": {"offerId": candidate.id, "idempotencyKey": f"test-tap-{n:04d}"}}
        answer = hub.graphql(ACCEPT, variables, token=token_for(candidate.resident_id)).json()
        assert "errors" not in answer, answer
        first = answer["data"]["acceptOffer"]
        assert first["offer"] == {"id": candidate.id, "state": "ACCEPTED"}
        if first["application"] is not None:
            offer, token = candidate, token_for(candidate.resident_id)
            break
        assert first["userErrors"] == [{"code": "ALREADY_ENTITLED", "field": None}]
    assert first["application"]["decision"]["outcome"] == "APPROVED"
    # however often it is tapped
    grants = offers.civil.calls(GRANTS)
    again = {"input": {"offerId": offer.id, "idempotencyKey": "test-tap-again"}}
    second = hub.graphql(ACCEPT, again, token=token).json()["data"]["acceptOffer"]
    assert second["application"] == first["application"]
    assert offers.civil.calls(GRANTS) == grants
    # another resident's offer is not theirs to accept
    other = token_for("R000002" if offer.resident_id != "R000002" else "R000004")
    refused = hub.graphql(ACCEPT, {"input": {"offerId": offer.id, "idempotencyKey": "test-other-01"}},
                          token=other).json()["data"]["acceptOffer"]  # fmt: skip
    assert refused["userErrors"] == [{"code": "NOT_FOUND", "field": "offerId"}]
    # channels: SMS off, as replying TD
    off = {"input": {"channel": "SMS", "enabled": False, "idempotencyKey": "test-channel-01"}}
    channels = hub.graphql(CHANNEL, off, token=token).json()["data"]["setOfferChannel"]
    assert {c["channel"]: c["enabled"] for c in channels["channels"]} == {
        "SMS": False, "WECHAT": True, "APP": True,
    }  # fmt: skip
    with Session(offers.engine) as session:
        assert session.get(OfferOptOut, (offer.subject, "sms")) is not None


MEMBER_OFFERS = "{ me { offers { id item { code } reason eligibleFrom state forMember } } }"


def test_a_household_member_without_an_account_is_offered_through_the_household(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    # given the registry's father of household 13, turning 70 in two months, with no account
    hub = offers.start()
    offers.scanned(hub)
    offer = offers.the_offer()
    assert offer.resident_id is None and offer.household_id == offers.case["household_id"]
    head = token_for(people.resident_id(2 * int(offers.case["household_id"][1:]) - 1))
    # when the household's resident opens the app: the father's offer, his name masked
    listed = hub.graphql(MEMBER_OFFERS, token=head).json()["data"]["me"]["offers"]
    theirs = [o for o in listed if o["id"] == offer.id]
    assert theirs == [
        {
            "id": offer.id, "item": {"code": "elderly_allowance"}, "reason": "UPCOMING",
            "eligibleFrom": offer.eligible_from.isoformat(), "state": "OFFERED",
            "forMember": offer.name[:1] + "*" * (len(offer.name) - 1),
        }
    ]  # fmt: skip
    # a resident of another household neither sees nor accepts it
    stranger = token_for("R000002")
    seen = hub.graphql(MEMBER_OFFERS, token=stranger).json()["data"]["me"]["offers"]
    assert offer.id not in {o["id"] for o in seen}
    tap = {"input": {"offerId": offer.id, "idempotencyKey": "test-member-tap-1"}}
    refused = hub.graphql(ACCEPT, tap, token=stranger).json()["data"]["acceptOffer"]
    assert refused["userErrors"] == [{"code": "NOT_FOUND", "field": "offerId"}]
    # and the household's resident accepts it for him: filed on his 70th birthday
    accepted = hub.graphql(ACCEPT, tap, token=head).json()["data"]["acceptOffer"]
    assert accepted["offer"] == {"id": offer.id, "state": "ACCEPTED"}
    assert accepted["filedOn"] == offer.eligible_from.isoformat()
    assert accepted["userErrors"] == []


SUBSCRIBE = "subscription { offers { id item { code } reason state } }"


def subscribed_offer(
    offers: Offers, token_for: Callable[..., str], app_hub: LiveHub, make: Callable[[], None]
) -> dict[str, Any]:
    """The first ``next`` message of an app subscribed on ``app_hub`` after ``make()``."""
    url = app_hub.url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as app:
        token = token_for(RESIDENT_OF_70)
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        app.send(json.dumps(init))
        assert json.loads(app.recv(timeout=WAIT_S))["type"] == "connection_ack"
        app.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        make()
        message: dict[str, Any] = json.loads(app.recv(timeout=WAIT_S))
    assert message["type"] == "next", message
    pushed: dict[str, Any] = message["payload"]["data"]["offers"]
    mine = [o for o in all_offers(offers.engine) if o.resident_id == RESIDENT_OF_70]
    assert [o.id for o in mine] == [pushed["id"]]
    assert pushed["item"] == {"code": "elderly_allowance"} and pushed["state"] == "OFFERED"
    return pushed


def test_subscription_delivers_a_new_offer_at_once(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    # given: a hub with no scan yet; an app without a resident's token is refused
    hub = offers.start(offers_scan_s=0.0)
    url = hub.url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as refused:
        refused.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(ConnectionClosed) as closed:
            refused.recv(timeout=WAIT_S)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    def scan() -> None:  # the CLI, on the hub's database: the hub's dispatcher pushes
        settings = offers.settings(offers_page_size=200)
        done = cli_offers.run(argparse.Namespace(action="scan", item="elderly_allowance"), settings)
        assert done == 0

    # when: a subscribed app, then a scan; then: its offer is pushed
    subscribed_offer(offers, token_for, hub, scan)


def test_subscription_through_redis_reaches_the_app_on_another_replica(
    offers: Offers,
    token_for: Callable[..., str],
    redis_url: str,  # noqa: F811
    prefix: str,  # noqa: F811
) -> None:
    # redis_url: in CI an unreachable Redis fails the test (tests/test_shared_state.py)
    shared = {"redis_url": redis_url, "redis_prefix": prefix}
    # given: the app on a replica that neither scans nor sends
    quiet = offers.start(callbacks=False, offers_scan_s=0.0, offers_dispatch_s=0.0, **shared)
    client = redis.Redis.from_url(redis_url)
    channel = shared["redis_prefix"] + "offers"
    wait_for(
        "the replica listens", lambda: dict(client.pubsub_numsub(channel)).get(channel.encode())
    )
    client.close()
    started: list[LiveHub] = []
    # when: another replica scans and its dispatcher sends the app channel
    subscribed_offer(offers, token_for, quiet, lambda: started.append(offers.start(**shared)))
    # then (above): the offer reached the app through Redis
    assert started


def test_a_hub_stopped_mid_scan_is_resumed_by_the_next(offers: Offers) -> None:
    # given: the registry answers slowly, pages are small
    population = MockAdmin(offers.population_url)
    population.faults(latency_ms=150)
    try:
        first = offers.start(offers_page_size=20, offers_lease_s=1.0)
        # when: the hub is stopped after two pages
        wait_for("two pages", lambda: (run := _run(offers.engine)) and run.pages >= 2)
        first.close()
        offers.hubs.remove(first)
        stopped = _run(offers.engine)
        assert stopped is not None and stopped.finished_at is None and stopped.cursor
        population.clear_faults()
        offers.clock.advance(seconds=2)  # past the lease (the stop released it anyway)
        second = offers.start(offers_page_size=20)
        done = offers.scanned(second)
    finally:
        population.clear_faults()
    # then: the second hub went on from the cursor: each page accepted once, everyone offered
    # once, and the person turning 70 gets one SMS
    sink = MemorySink()
    day = offers.clock.now.astimezone(SHANGHAI).date()
    asyncio.run(_full_scan(offers.population_url, day, sink))
    assert done["pages"] == len(sink.cursors)
    subjects = [o.subject for o in all_offers(offers.engine)]
    assert sorted(subjects) == sorted({c.id_number for c in sink.candidates})
    wait_for("the offer SMS", lambda: outbox(offers.sms_url, offers.phone))
    assert len(outbox(offers.sms_url, offers.phone)) == 1


def _run(engine: Engine) -> OfferScan | None:
    with Session(engine) as session:
        return session.exec(select(OfferScan)).first()


async def _full_scan(url: str, day: date, sink: MemorySink) -> None:
    async with aiohttp.ClientSession() as session:
        population = PopulationConnector(session, policy("population", url))
        await scan(PROACTIVE["elderly_allowance"], population=population, today=day, sink=sink,
                   page_size=20)  # fmt: skip


def test_wechat_goes_to_linked_followers_and_skips_the_others(
    offers: Offers, mocks: BackgroundMocks
) -> None:
    wechat_url = mocks.urls["wechat"]
    httpx.post(f"{wechat_url}/__admin/reset").raise_for_status()
    # given: two residents of over 62 with their openid linked, one following the account
    old = [n for n in range(1, 200) if _age(people.birth_date(n), offers.clock.now.date()) >= 62]
    follower = next(n for n in old if follows(people.id_number(n)))
    stranger = next(n for n in old if not follows(people.id_number(n)))
    hub = offers.start(offers_scan_s=0.0)
    with Session(offers.engine) as session:
        for n in (follower, stranger):
            session.add(
                AccountLink(
                    resident_id=people.resident_id(n), department="wechat", kind="openid",
                    account_id=openid_of(people.id_number(n)),
                )
            )  # fmt: skip
        session.commit()
    # when: the home-care subsidy is scanned (SMS, WeChat and the app)
    settings = offers.settings(offers_page_size=500)
    assert cli_offers.run(argparse.Namespace(action="scan", item="home_care"), settings) == 0

    def wechat_of(n: int) -> OfferDelivery | None:
        found = offers_of(offers.engine, people.id_number(n))
        if not found:
            return None
        delivery = deliveries_of(offers.engine, found[0].id)[("wechat", "offer")]
        return delivery if delivery.state not in ("PENDING", "SENDING") else None

    # then: the follower's template message went out; the other is skipped, not failed
    assert wait_for("the follower's", lambda: wechat_of(follower)).state == "SENT"
    skipped = wait_for("the stranger's", lambda: wechat_of(stranger))
    assert (skipped.state, skipped.error) == ("SKIPPED", "not following")
    sent = httpx.get(f"{wechat_url}/__admin/outbox").json()["messages"]
    assert [m["touser"] for m in sent] == [openid_of(people.id_number(follower))]
    assert sent[0]["template_id"] == "ihub-offer-notice"
    assert hub.client.get("/status").status_code == 200


def _age(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


LINK = """mutation Link($input: LinkWeChatInput!) { linkWeChat(input: $input) {
  linked userErrors { code field } } }"""


def test_a_resident_links_their_wechat_with_the_page_s_code(
    offers: Offers, mocks: BackgroundMocks, token_for: Callable[..., str]
) -> None:
    wechat_url = mocks.urls["wechat"]
    httpx.post(f"{wechat_url}/__admin/reset").raise_for_status()
    hub = offers.start(offers_scan_s=0.0)
    me, other = people.resident_id(4), people.resident_id(5)

    def link(who: str, code: str, key: str) -> dict[str, Any]:
        variables = {"input": {"code": code, "idempotencyKey": key}}
        body = hub.graphql(LINK, variables, token=token_for(who)).json()
        assert "errors" not in body, body
        return dict(body["data"]["linkWeChat"])

    def page_code(n: int) -> str:
        issued = httpx.post(
            f"{wechat_url}/__admin/oauth-code", json={"id_number": people.id_number(n)}
        )
        return str(issued.raise_for_status().json()["code"])

    def links() -> list[tuple[str, str]]:
        with Session(offers.engine) as session:
            rows = session.exec(select(AccountLink).where(AccountLink.department == "wechat"))
            return sorted((r.resident_id, r.account_id) for r in rows)

    # when the resident opens the service account's page and the app sends WeChat's code
    code = page_code(4)
    assert link(me, code, "test-link-0001") == {"linked": True, "userErrors": []}
    # then their openid is linked (WeChat offers now reach them), and a repeat is the same
    assert links() == [(me, openid_of(people.id_number(4)))]
    assert link(me, code, "test-link-0001") == {"linked": True, "userErrors": []}
    # a code used already is refused, and nothing changes
    assert link(me, code, "test-link-0002")["userErrors"] == [
        {"code": "INVALID_CODE", "field": "code"}
    ]
    # another resident cannot take a WeChat that is linked to someone else
    taken = link(other, page_code(4), "test-link-0003")
    assert taken == {"linked": False, "userErrors": [{"code": "CONFLICT", "field": "code"}]}
    assert links() == [(me, openid_of(people.id_number(4)))]
    # and a code that is not WeChat's shape is bad input, asked of nobody
    bad = hub.graphql(
        LINK, {"input": {"code": "not a code!", "idempotencyKey": "test-link-0004"}},
        token=token_for(me),
    ).json()  # fmt: skip
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- after acceptance: outcomes of review, household members, the already entitled --

OPERATOR_KEY = "key-of-operator-a"
OPERATORS = {"operator-a": key_digest(OPERATOR_KEY)}
APPLY = """mutation Apply($input: ApplyForServiceInput!) { applyForService(input: $input) {
  application { decision { outcome } } userErrors { code } } }"""


def _uplink(offers: Offers, phone: str, text: str) -> None:
    answer = httpx.post(f"{offers.sms_url}/__admin/uplink", json={"phone": phone, "text": text})
    answer.raise_for_status()


def _texts(offers: Offers, phone: str) -> list[str]:
    return [m["text"] for m in outbox(offers.sms_url, phone)]


def _decision(offers: Offers, decision_id: str) -> DecisionRecord:
    with Session(offers.engine) as session:
        query = select(DecisionRecord).where(DecisionRecord.decision_id == decision_id)
        return session.exec(query).one()


def _past_the_minute(offers: Offers) -> None:
    """The gateway's one-a-minute limit deferred the next SMS: let a minute pass on both
    clocks (the gateway's first, then the hub's)."""
    set_clock(offers.sms_url, advance_s=61)
    offers.clock.advance(seconds=61)


def _own_number(offers: Offers) -> Offer:
    """A hub resident's NOW offer on a number no other offer has (同意 from it is theirs)."""
    made = all_offers(offers.engine)
    numbers = [o.mobile for o in made]
    return next(
        o for o in made
        if o.resident_id and o.reason == "NOW" and o.mobile and numbers.count(o.mobile) == 1
    )  # fmt: skip


def _all_sent(hub: LiveHub) -> bool:
    items = hub.client.get("/status").json()["offers"]["items"]
    return all(item["pendingDeliveries"] == 0 for item in items.values())


def test_an_operator_s_rejection_of_a_reviewed_acceptance_is_sent_back_once(
    offers: Offers,
) -> None:
    # given: two replicas on one database, both filing, queueing and dispatching
    hub = offers.start(operator_keys=OPERATORS)
    replica = offers.start(callbacks=False, operator_keys=OPERATORS)
    offers.scanned(hub)
    offer = _own_number(offers)
    phone = offer.mobile
    assert phone is not None
    wait_for("the offer SMS", lambda: outbox(offers.sms_url, phone))
    # when: the resident replies 同意 while the registry is down
    population = MockAdmin(offers.population_url)
    population.faults(down=True)
    try:
        _uplink(offers, phone, "同意")
        filed = wait_for("filed", lambda: offers_of(offers.engine, offer.subject)[0].decision_id)
    finally:
        population.clear_faults()
    # then: the decision is NEEDS_REVIEW, and the resident is told so by SMS
    assert _decision(offers, filed).outcome == "NEEDS_REVIEW"
    wait_for("the decision SMS queued", lambda: deliveries_of(offers.engine, offer.id).get(
        ("sms", "decision")))  # fmt: skip
    _past_the_minute(offers)
    wait_for("the decision SMS", lambda: len(outbox(offers.sms_url, phone)) == 2)
    assert "已转人工审核" in _texts(offers, phone)[1]
    # when: an operator rejects the case over HTTP, and the POST is retried
    url = f"{hub.url}/operators/reviews/{filed}"
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    body = {"outcome": "REJECTED", "reason": "材料存疑"}
    first = httpx.post(url, json=body, headers=headers)
    again = httpx.post(url, json=body, headers=headers)
    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()["code"]) == (409, "ALREADY_DECIDED")
    # then: the outcome goes back by SMS, once (the gateway's minute first defers it)
    wait_for("the final SMS queued", lambda: deliveries_of(offers.engine, offer.id).get(
        ("sms", "final")))  # fmt: skip
    _past_the_minute(offers)
    wait_for("the final SMS", lambda: len(outbox(offers.sms_url, phone)) == 3)
    final = wait_for(
        "the final SMS delivered",
        lambda: (
            (d := deliveries_of(offers.engine, offer.id)[("sms", "final")]).state == "DELIVERED"
            and d
        ),
    )
    assert final.decision_id == first.json()["decision"]["id"]
    wait_for(
        "nothing left to send on either replica", lambda: _all_sent(hub) and _all_sent(replica)
    )
    texts = _texts(offers, phone)
    assert len(texts) == 3
    assert [m["out_id"] for m in outbox(offers.sms_url, phone)][2] == str(final.id)
    assert "未获批准" in texts[2] and "经人工审核不予通过：材料存疑" in texts[2]
    assert set(deliveries_of(offers.engine, offer.id)) == {
        ("sms", "offer"), ("app", "offer"), ("sms", "decision"), ("sms", "final"),
    }  # fmt: skip


def test_a_payment_completed_by_the_recheck_is_sent_back_once(offers: Offers) -> None:
    # given: the person turning 70 in two months replied 同意; the re-check runs
    hub = offers.start(approvals_recheck_s=0.2)
    offers.scanned(hub)
    wait_for("the offer SMS", lambda: outbox(offers.sms_url, offers.phone))
    offers.uplink("同意")
    wait_for("accepted", lambda: offers.the_offer().state == "ACCEPTED")
    # when: the birthday comes with the civil ledger down at payment time
    offers.civil.faults(down=True)
    try:
        offers.clock.advance(days=61)
        filed = wait_for("filed", lambda: offers.the_offer().decision_id)
        pending = _decision(offers, filed)
        assert pending.outcome == "NEEDS_REVIEW" and "PAYMENT_PENDING" in pending.reasons
        # then: told at once that it waits (once past the gateway's minute)
        wait_for("the decision SMS queued", lambda: deliveries_of(
            offers.engine, offers.the_offer().id).get(("sms", "decision")))  # fmt: skip
        _past_the_minute(offers)
        wait_for("the decision SMS", lambda: len(outbox(offers.sms_url, offers.phone)) == 2)
        assert "已转人工审核" in _texts(offers, offers.phone)[1]
    finally:
        offers.civil.clear_faults()
    # when: the ledger is back, the re-check pays and closes the case
    offer_id = offers.the_offer().id
    wait_for("the final SMS queued", lambda: deliveries_of(offers.engine, offer_id).get(
        ("sms", "final")))  # fmt: skip
    _past_the_minute(offers)
    wait_for("the final SMS", lambda: len(outbox(offers.sms_url, offers.phone)) == 3)
    wait_for(
        "the final SMS delivered",
        lambda: deliveries_of(offers.engine, offer_id)[("sms", "final")].state == "DELIVERED",
    )
    wait_for("nothing left to send", lambda: _all_sent(hub))
    # then: approved, paid once, and told once
    texts = _texts(offers, offers.phone)
    assert len(texts) == 3 and "已获批准" in texts[2] and "每月200元" in texts[2]
    assert offers.entitlements() == ["GLJT"]
    with Session(offers.engine) as session:
        case = session.get(ReviewCase, filed)
        assert case is not None and (case.state, case.closed_by) == ("CLOSED", "auto-recheck")


def test_a_household_member_s_offer_is_pushed_to_the_household_s_app(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    hub = offers.start(offers_scan_s=0.0)
    household = offers.case["household_id"]
    head = people.resident_id(2 * int(household[1:]) - 1)
    url = hub.url.replace("http://", "ws://") + "/graphql"
    query = "subscription { offers { id item { code } state forMember } }"
    pushed: list[dict[str, Any]] = []
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as app:
        init = {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {token_for(head)}"},
        }
        app.send(json.dumps(init))
        assert json.loads(app.recv(timeout=WAIT_S))["type"] == "connection_ack"
        app.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        # when: a scan offers the household's father, who has no account
        settings = offers.settings(offers_page_size=200)
        assert cli_offers.run(argparse.Namespace(action="scan", item="elderly_allowance"),
                              settings) == 0  # fmt: skip
        member = offers.the_offer()
        while not any(p["id"] == member.id for p in pushed):
            message = json.loads(app.recv(timeout=WAIT_S))
            assert message["type"] == "next", message
            pushed.append(message["payload"]["data"]["offers"])
    # then: it reaches the head's app at once, the name masked as in me.offers; whatever else
    # came is the head's own
    theirs = next(p for p in pushed if p["id"] == member.id)
    assert theirs == {
        "id": member.id, "item": {"code": "elderly_allowance"}, "state": "OFFERED",
        "forMember": member.name[:1] + "*" * (len(member.name) - 1),
    }  # fmt: skip
    own = {o.id for o in all_offers(offers.engine) if o.resident_id == head}
    assert {p["id"] for p in pushed} - {member.id} <= own


def test_the_broker_hands_a_member_s_offer_to_its_household_only() -> None:
    async def run() -> tuple[int, int, int]:
        broker = OfferBroker()
        member = Offer(
            id="m1", item_code="elderly_allowance", subject="x", resident_id=None,
            household_id="H000013", name="王某", period="once", reason="UPCOMING",
            eligible_from=date(2027, 2, 1), expires_at=datetime.now(UTC), state="OFFERED",
            created_at=datetime.now(UTC),
        )  # fmt: skip
        async with (
            broker.subscribe("R000025", "H000013") as head,
            broker.subscribe("R000026", "H000013") as spouse,
            broker.subscribe("R000001", "H000001") as stranger,
        ):
            handed = broker.deliver(member)
            return handed, head.qsize() + spouse.qsize(), stranger.qsize()

    assert asyncio.run(run()) == (2, 2, 0)


def test_an_already_entitled_person_is_not_offered(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    # given: a household head applied (秒批) for the father turning 70 today: approved
    hub = offers.start(offers_scan_s=0.0)
    case = cases(offers.population_url)["turns_70_today"]
    head = people.resident_id(2 * int(case["household_id"][1:]) - 1)
    variables = {"input": {"itemCode": "elderly_allowance", "idempotencyKey": "test-entitled-1",
                           "forMember": case["id_number"]}}  # fmt: skip
    applied = hub.graphql(APPLY, variables, token=token_for(head)).json()["data"]
    assert applied["applyForService"]["userErrors"] in ([], [{"code": "ALREADY_ENTITLED"}])
    # when: the scan finds him
    settings = offers.settings(offers_page_size=200)
    assert (
        cli_offers.run(argparse.Namespace(action="scan", item="elderly_allowance"), settings) == 0
    )
    found = offers_of(offers.engine, case["id_number"])
    assert len(found) == 1

    def settled() -> dict[tuple[str, str], Any] | None:
        rows = deliveries_of(offers.engine, found[0].id)
        return rows if all(d.state not in ("PENDING", "SENDING") for d in rows.values()) else None

    # then: nothing is sent him; the offer is marked, counted, and not listed in the app
    rows = wait_for("his deliveries settled", settled)
    assert {k: (d.state, d.error) for k, d in rows.items()} == {
        ("sms", "offer"): ("SKIPPED", "already entitled"),
        ("app", "offer"): ("SKIPPED", "already entitled"),
    }
    assert offers_of(offers.engine, case["id_number"])[0].state == "ENTITLED"
    out_ids = {str(d.id) for d in rows.values()}
    assert not [m for m in outbox(offers.sms_url) if m["out_id"] in out_ids]
    lines = [
        f'ihub_offers_total{{channel="{channel}",event="entitled",item="elderly_allowance"}} 1.0'
        for channel in ("sms", "app")
    ]
    wait_for(  # counted just after the row is written
        "counted", lambda: all(line in hub.client.get("/metrics").text for line in lines)
    )
    listed = hub.graphql(MEMBER_OFFERS, token=token_for(head)).json()["data"]["me"]["offers"]
    assert found[0].id not in {o["id"] for o in listed}
    # and the others of the scan are offered as before
    wait_for("the others' SMS", lambda: outbox(offers.sms_url))


def test_an_in_app_acceptance_s_review_outcome_is_pushed_to_the_app(
    offers: Offers, token_for: Callable[..., str]
) -> None:
    # given: a resident's offer, shown in the app
    hub = offers.start(operator_keys=OPERATORS)
    offers.scanned(hub)
    offer = _own_number(offers)
    assert offer.resident_id is not None
    wait_for("the app's offer sent", lambda: deliveries_of(offers.engine, offer.id)[
        ("app", "offer")].state == "SENT")  # fmt: skip
    token = token_for(offer.resident_id)
    url = hub.url.replace("http://", "ws://") + "/graphql"
    with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as app:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        app.send(json.dumps(init))
        assert json.loads(app.recv(timeout=WAIT_S))["type"] == "connection_ack"
        query = """subscription { offers { id state
          application { decision { outcome reasons { code } } } } }"""
        app.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))

        def pushed() -> dict[str, Any]:
            message = json.loads(app.recv(timeout=WAIT_S))
            assert message["type"] == "next", message
            return dict(message["payload"]["data"]["offers"])

        # when: one tap while the registry is down: NEEDS_REVIEW, pushed back at once
        population = MockAdmin(offers.population_url)
        population.faults(down=True)
        try:
            tap = {"input": {"offerId": offer.id, "idempotencyKey": "test-review-tap-1"}}
            accepted = hub.graphql(ACCEPT, tap, token=token).json()["data"]["acceptOffer"]
        finally:
            population.clear_faults()
        assert accepted["application"]["decision"]["outcome"] == "NEEDS_REVIEW"
        review = {"outcome": "NEEDS_REVIEW", "reasons": [{"code": "DEPARTMENT_UNAVAILABLE"}]}
        assert pushed() == {
            "id": offer.id, "state": "ACCEPTED", "application": {"decision": review},
        }  # fmt: skip
        # when: an operator rejects the case; then: the app hears of it once more
        filed = offers_of(offers.engine, offer.subject)[0].decision_id
        rejected = httpx.post(
            f"{hub.url}/operators/reviews/{filed}", json={"outcome": "REJECTED", "reason": "复核"},
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
        )  # fmt: skip
        assert rejected.status_code == 200, rejected.text
        rejection = {"outcome": "REJECTED", "reasons": [{"code": "OPERATOR_REJECTED"}]}
        assert pushed() == {
            "id": offer.id, "state": "ACCEPTED", "application": {"decision": rejection},
        }  # fmt: skip
    final = wait_for(
        "the final app message recorded (it is published first)",
        lambda: (
            (d := deliveries_of(offers.engine, offer.id)[("app", "final")]).state == "SENT" and d
        ),
    )
    assert final.decision_id == rejected.json()["decision"]["id"]
    assert ("sms", "final") not in deliveries_of(offers.engine, offer.id)
    # and the app's list says the same
    listed = hub.graphql(
        "{ me { offers { id application { decision { outcome } } } } }", token=token
    ).json()["data"]["me"]["offers"]
    assert [o["application"] for o in listed if o["id"] == offer.id] == [
        {"decision": {"outcome": "REJECTED"}}
    ]
