"""The offers store and dispatcher over a real database (SQLite and PostgreSQL), without the
gateways: an offer whose time ran out while its messages waited is stored EXPIRED and not
sent; the window a crash leaves between sending an SMS and recording it (README, offers); a
decided review case queues one final message however many rounds look."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest
from sqlmodel import Session, select

from hub.offers.broker import OfferBroker
from hub.offers.dispatcher import Dispatcher
from hub.offers.proactive import PROACTIVE
from hub.offers.scan import Candidate, Reason
from hub.offers.store import OfferStore
from hub.store.db import Database, create_tables, make_engine
from hub.store.decisions import SqlDecisions, SqlReviews
from hub.store.models import Offer, OfferDelivery
from schema.context import Decision
from schema.context import Reason as DecisionReason
from tests.offers_support import MovingClock

ELDERLY = PROACTIVE["elderly_allowance"]
HOLD_S = 120.0


@pytest.fixture
def database(fresh_database_url: str) -> Database:
    engine = make_engine(fresh_database_url)
    create_tables(engine)
    return Database(engine)


@pytest.fixture
def clock() -> MovingClock:
    return MovingClock(datetime.fromisoformat("2026-12-01T10:00:00+08:00"))


def candidate(n: int = 1) -> Candidate:
    return Candidate(
        ELDERLY.code, f"44030319560101{n:04d}", "张三", f"1380000{n:04d}", Reason.NOW,
        date(2026, 12, 1), "once",
    )  # fmt: skip


def delivery(database: Database, delivery_id: int) -> OfferDelivery:
    with Session(database.engine) as session:
        found = session.get(OfferDelivery, delivery_id)
        assert found is not None
        return found


async def test_an_offer_that_expired_while_its_messages_waited_is_not_sent(
    database: Database, clock: MovingClock
) -> None:
    store = OfferStore(database)
    counted: Counter[tuple[str, str, str]] = Counter()

    async def no_decision(_: str) -> None:
        return None

    dispatcher = Dispatcher(
        store, {}, clock=clock, broker=OfferBroker(), decision_of=no_decision,
        count=lambda *event: counted.update([event]), hold_s=HOLD_S,
    )  # fmt: skip
    [offer] = await store.add_offers([candidate()], clock())
    # when: its messages are still waiting when the offer's 90 days are up
    clock.advance(days=91)
    assert await store.expire(clock()) == 1
    assert await store.expire(clock()) == 0
    # then: stored EXPIRED, and its messages skipped, not sent (no gateway is even asked)
    assert await dispatcher.run_once() == 2
    with Session(database.engine) as session:
        stored = session.get(Offer, offer.id)
        assert stored is not None and stored.state == "EXPIRED"
        rows = session.exec(select(OfferDelivery).where(OfferDelivery.offer_id == offer.id)).all()
        assert {(d.channel, d.state, d.error) for d in rows} == {
            ("sms", "SKIPPED", "expired"), ("app", "SKIPPED", "expired"),
        }  # fmt: skip
    assert counted == {
        (ELDERLY.code, "sms", "expired"): 1, (ELDERLY.code, "app", "expired"): 1,
    }  # fmt: skip


async def test_a_crash_after_sending_resends_only_what_no_report_vouched_for(
    database: Database, clock: MovingClock
) -> None:
    store = OfferStore(database)
    await store.add_offers([candidate()], clock())
    # given: a dispatcher claims both messages, sends them, and dies before recording either
    claimed = {c.channel: c.delivery_id for c in await store.claim_due(clock(), 10, HOLD_S)}
    assert set(claimed) == {"sms", "app"}
    # when: the gateway's delivery report for the SMS (its out_id) comes while it is SENDING
    moved = await store.report("sms:report:b1:1", str(claimed["sms"]), "b1", True, clock())
    assert moved == (ELDERLY.code, "delivered")
    # then: once the claims lapse, the SMS is not claimed again; what no report vouched for is
    # (the window README's offers section describes: the gateway does not dedupe out_id)
    clock.advance(seconds=HOLD_S + 1)
    again = await store.claim_due(clock(), 10, HOLD_S)
    assert [(c.channel, c.attempts) for c in again] == [("app", 2)]
    assert delivery(database, claimed["sms"]).state == "DELIVERED"


def decision(decision_id: str, subject: str, outcome: str) -> Decision:
    return Decision(
        decision_id, "R000001", subject, ELDERLY.code, ELDERLY.impl_code, "1", "1",
        date(2026, 12, 1), (), outcome, (DecisionReason("X", "x"),), None,
    )  # fmt: skip


async def test_a_decided_review_queues_one_final_message(
    database: Database, clock: MovingClock
) -> None:
    store = OfferStore(database)
    decisions, reviews = SqlDecisions(database), SqlReviews(database)
    [offer] = await store.add_offers([candidate()], clock())
    assert await store.accept(offer.id, "sms", clock())
    # given: filed NEEDS_REVIEW, its decision message still waiting (the gateway's limit)
    await decisions.append_queued(decision("queued", offer.subject, "NEEDS_REVIEW"), {})
    await store.filed(offer.id, "queued", ["sms"], clock())
    assert await store.queue_finals(clock()) == 0  # the case is open
    # when: an operator decides it; two rounds (two replicas) look for outcomes
    assert await reviews.decide("queued", "operator-a", decision("no", offer.subject, "REJECTED"))
    assert [await store.queue_finals(clock()) for _ in range(2)] == [1, 0]
    # then: one final message, of the rejection; the waiting one is dropped for it
    with Session(database.engine) as session:
        rows = session.exec(select(OfferDelivery).where(OfferDelivery.offer_id == offer.id))
        told = {(d.channel, d.kind): (d.state, d.decision_id) for d in rows.all()}
        stored = session.get(Offer, offer.id)
    assert told[("sms", "final")] == ("PENDING", "no")
    assert told[("sms", "decision")] == ("SKIPPED", None)
    assert stored is not None and stored.outcome_id == "no"
