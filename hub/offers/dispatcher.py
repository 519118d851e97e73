"""The dispatcher: sends due deliveries in bounded batches; every replica may run it.

Per claimed delivery (``OfferStore.claim_due``): an offer whose person holds the item's grant
already is not sent (SKIPPED, the offer ENTITLED; counted ``entitled``), nor one that expired
while it waited (counted ``expired``); an opted-out channel is SKIPPED; SMS in the quiet
hours is DEFERRED until 08:00 Shanghai; the gateway's ``SmsLimited`` (WeChat's
``QuotaReached``) DEFERRED by its ``retry_after_s`` — retried, never dropped; WeChat's
``NotFollowing`` (or no openid known) SKIPPED; the app channel publishes to the resident's
subscribers and is SENT. A send whose answer was lost is FAILED, not repeated: neither
gateway is idempotent, and a second message is worse than none.

The messages: the offer; the filing's decision (``decision``); and for a decision that was
NEEDS_REVIEW, the one that closed its review case (``final``, ``OfferStore.queue_finals``) —
each through the same quiet hours, limits and deferrals.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import cast

import numpy as np

from connectors.base import Connector
from connectors.errors import ConnectorError, UpstreamTimeout, UpstreamUnavailable
from connectors.sms import InvalidPhone, SmsConnector, SmsLimited
from connectors.wechat import WeChatConnector
from connectors.wechat.errors import NotFollowing, QuotaReached, UnknownOpenid
from hub.approvals import engine
from hub.offers.broker import OfferBroker
from hub.offers.clock import Clock, quiet_until
from hub.offers.proactive import PROACTIVE
from hub.offers.store import (
    DEFERRED,
    EXPIRED,
    FAILED,
    FINAL,
    OFFER,
    SENT,
    SKIPPED,
    Claimed,
    OfferStore,
)
from schema.context import Decision

logger = logging.getLogger("ihub.offers")
Count = Callable[[str, str, str], None]
"""``(item, channel, event)``: one more of ``ihub_offers_total``."""
DecisionOf = Callable[[str], Awaitable[Decision | None]]
RESULTS = {"APPROVED": "已获批准", "REJECTED": "未获批准", "NEEDS_REVIEW": "已转人工审核"}
SUPERSEDED = "您已在享受该项补贴，无需重复申请。"
"""A review case closed because the item was granted by another application meanwhile."""


def day_text(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def elderly_amount_yuan(day: date) -> str:
    """The allowance at 70 on ``day``, in yuan, from the item's dated parameters."""
    node = engine.engine().parameters(day.isoformat()).elderly_allowance
    return str(int(node.monthly_amount_fen.calc(np.array([70]))[0]) // 100)


class Dispatcher:
    """Sends what is due, ``batch`` at a time, each claim held ``hold_s``."""

    def __init__(
        self,
        store: OfferStore,
        connectors: dict[str, Connector],
        *,
        clock: Clock,
        broker: OfferBroker,
        decision_of: DecisionOf,
        count: Count,
        batch: int = 50,
        hold_s: float = 120.0,
    ) -> None:
        self._store = store
        self._connectors = connectors
        self._clock = clock
        self._broker = broker
        self._decision_of = decision_of
        self._count = count
        self._batch = batch
        self._hold_s = hold_s

    async def run_once(self) -> int:
        """Send one batch of due deliveries; how many were claimed."""
        claimed = await self._store.claim_due(self._clock(), self._batch, self._hold_s)
        for delivery in claimed:
            try:
                await self._deliver(delivery)
            except Exception:  # one bad delivery must not stop the batch
                logger.exception("offer delivery %s failed", delivery.delivery_id)
                await self._finish(delivery, FAILED, error="internal error")
        return len(claimed)

    async def _finish(
        self,
        d: Claimed,
        state: str,
        *,
        biz_id: str | None = None,
        error: str | None = None,
        not_before: datetime | None = None,
        event: str | None = None,
    ) -> None:
        await self._store.finish(
            d.delivery_id, state, self._clock(), biz_id=biz_id, error=error, not_before=not_before
        )
        events = {SENT: "sent", DEFERRED: "deferred", FAILED: "failed", SKIPPED: "skipped"}
        self._count(d.offer.item_code, d.channel, event or events[state])

    async def _deliver(self, d: Claimed) -> None:
        if d.entitled:
            await self._store.mark_entitled(d.offer.id)
            await self._finish(d, SKIPPED, error="already entitled", event="entitled")
        elif d.kind == OFFER and d.offer.state == EXPIRED:
            await self._finish(d, SKIPPED, error="expired", event="expired")
        elif await self._store.opted_out(d.offer.subject, d.channel):
            await self._finish(d, SKIPPED, error="opted out")
        elif d.channel == "sms":
            await self._sms(d)
        elif d.channel == "wechat":
            await self._wechat(d)
        else:
            await self._broker.publish(d.offer)
            await self._finish(d, SENT)

    async def _outcome(self, d: Claimed) -> tuple[str, str] | None:
        """The decision message's result and detail, or ``None`` if its decision is gone."""
        if d.kind == FINAL and d.decision_id is None:
            return RESULTS["APPROVED"], SUPERSEDED
        decision = await self._decision_of(d.decision_id or "")
        if decision is None:
            return None
        detail = (
            f"每月{(decision.amount_fen or 0) // 100}元。"
            if decision.outcome == "APPROVED"
            else "".join(r.message for r in decision.reasons)[:60]
        )
        return RESULTS.get(decision.outcome, decision.outcome), detail

    async def _message(self, d: Claimed) -> tuple[str, dict[str, str]] | None:
        item = PROACTIVE[d.offer.item_code]
        if d.kind != OFFER:
            told = await self._outcome(d)
            if told is None:
                return None
            result, detail = told
            return "SMS_DECISION", {
                "name": d.offer.name, "item": item.name, "result": result, "detail": detail,
            }  # fmt: skip
        if item.code == "elderly_allowance":
            return "SMS_ELDERLY_OFFER", {
                "name": d.offer.name,
                "birthday": day_text(d.offer.eligible_from),
                "amount": elderly_amount_yuan(d.offer.eligible_from),
            }
        return "SMS_OFFER_GENERIC", {"name": d.offer.name, "item": item.name}

    async def _sms(self, d: Claimed) -> None:
        now = self._clock()
        if not d.offer.mobile:
            await self._finish(d, SKIPPED, error="no mobile number")
            return
        morning = quiet_until(now)
        if morning is not None:
            await self._finish(d, DEFERRED, error="quiet hours", not_before=morning)
            return
        message = await self._message(d)
        if message is None:
            await self._finish(d, FAILED, error="no decision")
            return
        sms = cast(SmsConnector, self._connectors["sms"])
        template, params = message
        try:
            receipt = await sms.send(
                phone=d.offer.mobile, template=template, params=params, out_id=str(d.delivery_id)
            )
        except SmsLimited as limited:
            later = now + timedelta(seconds=limited.retry_after_s)
            await self._finish(d, DEFERRED, error=f"limited ({limited.scope})", not_before=later)
        except InvalidPhone:
            await self._finish(d, FAILED, error="invalid phone")
        except (UpstreamUnavailable, UpstreamTimeout) as lost:
            await self._finish(d, FAILED, error=f"outcome unknown: {type(lost).__name__}")
        except ConnectorError as refused:
            await self._finish(d, FAILED, error=type(refused).__name__)
        else:
            await self._finish(d, SENT, biz_id=receipt.biz_id)

    async def _wechat(self, d: Claimed) -> None:
        if d.openid is None:
            await self._finish(d, SKIPPED, error="no openid linked")
            return
        item = PROACTIVE[d.offer.item_code]
        moment = self._clock().strftime("%Y-%m-%d %H:%M")
        if d.kind != OFFER:
            told = await self._outcome(d)
            outcome = told[0] if told else ""
            template, data = "ihub-decision-result", {
                "thing1": item.name[:20], "phrase2": outcome[:5], "time3": moment,
            }  # fmt: skip
        else:
            template, data = "ihub-offer-notice", {
                "thing1": item.name[:20], "thing2": f"{d.offer.name}可申请"[:20], "time3": moment,
            }  # fmt: skip
        wechat = cast(WeChatConnector, self._connectors["wechat"])
        try:
            await wechat.send_template(openid=d.openid, template=template, data=data)
        except (NotFollowing, UnknownOpenid):
            await self._finish(d, SKIPPED, error="not following")
        except QuotaReached as quota:
            later = self._clock() + timedelta(seconds=quota.retry_after_s)
            await self._finish(d, DEFERRED, error="quota", not_before=later)
        except (UpstreamUnavailable, UpstreamTimeout) as lost:
            await self._finish(d, FAILED, error=f"outcome unknown: {type(lost).__name__}")
        except ConnectorError as refused:
            await self._finish(d, FAILED, error=type(refused).__name__)
        else:
            await self._finish(d, SENT)
