"""Accepting an offer: the gateway's callbacks (reports, ``同意``, ``TD``), the app's tap, and
filing the 秒批 application once the offer's day has come.

- A callback's effect and its key (``offer_callback``) are one transaction: a replay or a
  duplicate changes nothing; a forged one never gets here (``SmsConnector.read_callback``).
- ``同意`` accepts the newest OFFERED offer sent by SMS to that phone (OFFERED → ACCEPTED is a
  conditional update: once). ``TD`` opts every subject of that phone out of SMS.
- Filing: an accepted offer is filed on or after its ``eligible_from`` — an UPCOMING offer
  accepted early stays ACCEPTED until the day, when the next filing round files it (so the
  resident who replies two months before their 70th birthday is approved on the day). The
  application is for the offer's subject: the hub resident themself, or — for a registry
  person who is not one — through the hub resident of their household (``forMember``), or,
  without one, a profile made from the registry (decision ``resident_id`` ``offer``). The
  approval service pays once per subject and item whatever happens; the decision goes back on
  the channel the offer was accepted on.
- A NEEDS_REVIEW decision (a department did not answer, the payment is pending) is told at
  once, and its outcome again when its review case is decided, whoever decides it
  (``queue_finals``: one ``final`` message per offer, from the database, on any replica).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import cast

from sqlmodel import Session, col, select

from connectors.base import Connector
from connectors.errors import ConnectorError
from connectors.population import PopulationConnector
from connectors.sms import SmsReport, SmsUplink
from hub.offers.clock import Clock, shanghai_day
from hub.offers.dispatcher import Count
from hub.offers.proactive import PROACTIVE
from hub.offers.store import OfferStore
from hub.store.db import Database
from hub.store.models import Offer, Resident
from schema.context import (
    Accounts,
    ApplicationResult,
    Approvals,
    CommunityProfile,
    ResidentDirectory,
    ResidentProfile,
)

logger = logging.getLogger("ihub.offers")
AGREE = frozenset({"同意", "同意。", "同意!", "同意！"})
UNSUBSCRIBE = frozenset({"TD", "T", "退订", "N"})
NOBODY = "offer"
"""The decision's ``resident_id`` for a registry person with no hub resident in the household."""


class Acceptance:
    """Reads callbacks, accepts offers and files their applications."""

    def __init__(
        self,
        store: OfferStore,
        database: Database,
        connectors: Mapping[str, Connector],
        approvals: Approvals,
        directory: ResidentDirectory,
        *,
        clock: Clock,
        count: Count,
        hold_s: float = 120.0,
    ) -> None:
        self._store = store
        self._database = database
        self._connectors = connectors
        self._approvals = approvals
        self._directory = directory
        self._clock = clock
        self._count = count
        self._hold_s = hold_s

    async def callback(self, callback: SmsReport | SmsUplink) -> None:
        """One verified gateway callback (the webhook answers 200 whatever this does)."""
        now = self._clock()
        if isinstance(callback, SmsReport):
            key = f"sms:report:{callback.biz_id}:{int(callback.delivered)}"
            moved = await self._store.report(
                key, callback.out_id, callback.biz_id, callback.delivered, now
            )
            if moved is not None:
                self._count(moved[0], "sms", moved[1])
            return
        key = f"sms:up:{callback.uplink_id}"
        text = callback.text.strip().upper()
        if text in AGREE:
            offer = await self._store.offered_by_sms(callback.phone, now)
            if offer is None:
                await self._store.seen(key, now)
                return
            if await self._store.accept(offer.id, "sms", now, key=key):
                self._count(offer.item_code, "sms", "accepted")
                await self.file_due()
        elif text in UNSUBSCRIBE:
            if await self._store.seen(key, now):
                return
            for subject in await self._store.subjects_of_phone(callback.phone):
                await self._store.opt_out(subject, "sms", now)
        else:
            await self._store.seen(key, now)

    async def accept_in_app(self, offer_id: str) -> bool:
        """The app's tap: ACCEPTED once (``False`` if it was not OFFERED), filed when due."""
        offer = await self._store.offer(offer_id)
        if offer is None or not await self._store.accept(offer_id, "app", self._clock()):
            return False
        self._count(offer.item_code, "app", "accepted")
        if offer.eligible_from <= shanghai_day(self._clock()) and not await self.file_due(
            only=offer_id
        ):
            await self._filed_elsewhere(offer_id)  # a filing round took it first: its answer
        return True

    async def _filed_elsewhere(self, offer_id: str) -> None:
        for _ in range(int(self._hold_s / 0.05)):
            found = await self._store.offer(offer_id)
            if found is None or found.decision_id is not None or found.filing_until is None:
                return
            await asyncio.sleep(0.05)

    async def queue_finals(self) -> int:
        """Queue the outcome of each filed offer whose review case was decided since; how many."""
        return await self._store.queue_finals(self._clock())

    async def file_due(self, *, only: str | None = None) -> int:
        """File the accepted offers whose day has come (``only`` that one); how many."""
        now = self._clock()
        filed = 0
        due = await self._store.claim_filing(now, shanghai_day(now), self._hold_s, only=only)
        for offer in due:
            result = await self._file(offer)
            if result is None:
                continue  # a department is down: the claim lapses and the next round retries
            decision_id = result.decision.decision_id if result.decision else None
            if decision_id is None and result.refusal is not None:
                decision_id = f"refused:{result.refusal[0]}"[:40]
                channels: list[str] = []
            else:
                channels = [offer.accepted_via or "app"]
            await self._store.filed(offer.id, decision_id, channels, self._clock())
            filed += 1
        return filed

    async def _file(self, offer: Offer) -> ApplicationResult | None:
        item = PROACTIVE[offer.item_code]
        try:
            if offer.resident_id is not None:
                profile = await self._directory.profile(offer.resident_id)
                if profile is None:
                    return None
                return await self._approvals.apply(profile, item.code, {})
            population = cast(PopulationConnector, self._connectors["population"])
            person = await population.person(offer.subject, purpose=item.impl_code)
            if person is None:
                return ApplicationResult(None, ("NOT_FOUND", "户籍库无此人。", None))
            head = await self._household_resident(person.household_id)
            if head is not None:
                profile = await self._directory.profile(head)
                if profile is not None:
                    return await self._approvals.apply(
                        profile, item.code, {}, for_member=offer.subject
                    )
            stand_in = ResidentProfile(
                id=NOBODY, name=person.name, birth_date=person.birth_date,
                id_number=offer.subject, community=CommunityProfile("", "", "", 0.0, 0.0),
                household_id=person.household_id, household=(), accounts=Accounts(),
            )  # fmt: skip
            return await self._approvals.apply(stand_in, item.code, {})
        except ConnectorError as exc:
            logger.warning("filing offer %s: %s unavailable", offer.id, exc.department)
            return None

    async def _household_resident(self, household_id: str) -> str | None:
        def read(session: Session) -> str | None:
            query = (
                select(Resident.id)
                .where(Resident.household_id == household_id)
                .order_by(col(Resident.id))
            )
            return session.exec(query).first()

        return await self._database.run(read)
