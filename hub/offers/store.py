"""The offers in the hub's database: made exactly once, their deliveries claimed by one sender.

- ``OfferStore.sink(run)`` is the scan's ``CandidateSink``: each page's offers are inserted
  with ``ON CONFLICT DO NOTHING`` on (item, subject, period) and the run's cursor is advanced
  in the same transaction, only while the run's lease is still this scanner's
  (``LeaseLost`` otherwise): a page is either wholly accepted with its cursor or not at all.
- Deliveries are claimed by a conditional update (due PENDING/DEFERRED, or a SENDING whose
  claim lapsed), so two replicas' dispatchers never send one message.
- Reports only move a delivery forward (SENDING/SENT → DELIVERED/FAILED); callbacks are
  deduplicated by key in ``offer_callback``, in the transaction of their effect.
- A filing whose decision was NEEDS_REVIEW gets a ``final`` delivery once its review case is
  closed — by an operator, the re-check, the CLI, on any replica — found by ``queue_finals``
  and inserted with ``ON CONFLICT DO NOTHING`` on (offer, channel, kind): exactly once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.offers.proactive import PROACTIVE
from hub.offers.scan import Candidate
from hub.store.db import Database
from hub.store.models import (
    AccountLink,
    ApprovalGrant,
    DecisionRecord,
    Offer,
    OfferCallback,
    OfferDelivery,
    OfferOptOut,
    OfferScan,
    Resident,
    ReviewCase,
)

OFFERED, ACCEPTED, EXPIRED, REFUSED = "OFFERED", "ACCEPTED", "EXPIRED", "REFUSED"
ENTITLED = "ENTITLED"
"""An offer not sent: its person holds the item's grant already (``approval_grant``)."""
OFFER, DECISION, FINAL = "offer", "decision", "final"
PENDING, DEFERRED, SENDING, SENT = "PENDING", "DEFERRED", "SENDING", "SENT"
DELIVERED, FAILED, SKIPPED = "DELIVERED", "FAILED", "SKIPPED"
DUE = (PENDING, DEFERRED)
OPEN = (PENDING, DEFERRED, SENDING)


class LeaseLost(Exception):
    """The scan run's lease is another scanner's now: this one must stop."""


def utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def stamp(at: datetime) -> datetime:
    """Stored times are UTC, with their zone (as the hub's columns want them)."""
    return utc(at)


@dataclass(frozen=True)
class Claimed:
    """A delivery this process may send now, with what it needs of its offer."""

    delivery_id: int
    channel: str
    kind: str
    offer: Offer
    attempts: int
    openid: str | None
    decision_id: str | None = None
    """The decision a ``decision`` or ``final`` message tells (``final`` ``None``: superseded)."""
    entitled: bool = False
    """An ``offer`` message whose person holds the item's grant already: not to be sent."""


def _insert(session: Session) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def _closing_decision(session: Session, decision_id: str) -> tuple[bool, str | None]:
    """Follow the review cases from ``decision_id``: ``(True, id)`` of the decision that closed
    the last case (``(True, None)``: closed as superseded), ``(False, None)`` while undecided."""
    current = decision_id
    for _ in range(16):
        case = session.get(ReviewCase, current)
        if case is None:
            outcome = session.exec(
                select(DecisionRecord.outcome).where(DecisionRecord.decision_id == current)
            ).first()
            return (True, current) if outcome not in (None, "NEEDS_REVIEW") else (False, None)
        if case.state != "CLOSED":
            return False, None
        if case.closing_decision_id is None:
            return True, None
        current = case.closing_decision_id
    return False, None


def run_id(item: str, day: date) -> str:
    return f"{item}:{day.isoformat()}"


class OfferStore:
    """Offers, deliveries, opt-outs, callbacks and scan runs, over ``Database``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    # -- offers -----------------------------------------------------------------------------

    def _add_offers(
        self, session: Session, candidates: Sequence[Candidate], now: datetime
    ) -> list[Offer]:
        if not candidates:
            return []
        numbers = sorted({c.id_number for c in candidates})
        residents = dict(
            session.exec(
                select(Resident.id_number, Resident.id).where(col(Resident.id_number).in_(numbers))
            ).all()
        )
        rows: list[dict[str, Any]] = []
        for c in candidates:
            item = PROACTIVE[c.item]
            rows.append(
                {
                    "id": uuid.uuid4().hex, "item_code": c.item, "subject": c.id_number,
                    "resident_id": residents.get(c.id_number), "name": c.name,
                    "household_id": c.household_id,
                    "mobile": c.mobile, "period": c.period, "reason": c.reason.value,
                    "eligible_from": c.eligible_from,
                    "expires_at": stamp(now + item.expires_after), "state": OFFERED,
                    "created_at": stamp(now),
                }
            )  # fmt: skip
        statement = (
            _insert(session)(Offer)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["item_code", "subject", "period"])
        )
        session.execute(statement)
        ids = [r["id"] for r in rows]
        made = list(session.exec(select(Offer).where(col(Offer.id).in_(ids))).all())
        for offer in made:
            for channel in PROACTIVE[offer.item_code].channels:
                session.add(
                    OfferDelivery(
                        offer_id=offer.id, channel=channel.value, kind="offer", state=PENDING,
                        not_before=stamp(now), updated_at=stamp(now),
                    )
                )  # fmt: skip
        return made

    async def add_offers(self, candidates: Sequence[Candidate], now: datetime) -> list[Offer]:
        """Offer to ``candidates`` (those not offered this item and period before): the new."""

        def work(session: Session) -> list[Offer]:
            made = self._add_offers(session, candidates, now)
            session.commit()
            for offer in made:
                session.refresh(offer)
                session.expunge(offer)
            return made

        return await self._database.run(work)

    async def accept_page(
        self,
        run: str,
        holder: str,
        candidates: Sequence[Candidate],
        cursor: str | None,
        persons: int,
        now: datetime,
        ttl_s: float,
    ) -> list[Offer]:
        """One scan page's offers and the run's cursor, in one transaction, if ``holder``
        still holds the run's lease (renewed for ``ttl_s``; ``LeaseLost`` if not: nothing is
        written)."""

        def work(session: Session) -> list[Offer]:
            made = self._add_offers(session, candidates, now)
            advanced = session.execute(
                update(OfferScan)
                .where(col(OfferScan.id) == run, col(OfferScan.lease_holder) == holder)
                .values(
                    cursor=cursor,
                    pages=col(OfferScan.pages) + 1,
                    persons=col(OfferScan.persons) + persons,
                    candidates=col(OfferScan.candidates) + len(candidates),
                    finished_at=stamp(now) if cursor is None else None,
                    lease_until=stamp(now + timedelta(seconds=ttl_s)),
                )
            )
            if advanced.rowcount != 1:  # type: ignore[attr-defined]
                session.rollback()
                raise LeaseLost(run)
            session.commit()
            for offer in made:
                session.refresh(offer)
                session.expunge(offer)
            return made

        return await self._database.run(work)

    async def offer(self, offer_id: str) -> Offer | None:
        return await self._database.run(lambda s: s.get(Offer, offer_id))

    async def link_openid(self, resident_id: str, openid: str) -> bool:
        """The resident's WeChat openid (one per resident: a new one replaces the old);
        ``False`` when the openid is another resident's."""

        def work(session: Session) -> bool:
            owner = session.exec(
                select(AccountLink.resident_id).where(
                    AccountLink.department == "wechat", AccountLink.kind == "openid",
                    AccountLink.account_id == openid,
                )
            ).first()  # fmt: skip
            if owner is not None:
                return owner == resident_id
            for old in session.exec(
                select(AccountLink).where(
                    AccountLink.resident_id == resident_id, AccountLink.department == "wechat",
                    AccountLink.kind == "openid",
                )
            ).all():  # fmt: skip
                session.delete(old)
            session.add(
                AccountLink(
                    resident_id=resident_id, department="wechat", kind="openid", account_id=openid
                )
            )
            try:
                session.commit()
            except IntegrityError:  # linked by another resident at the same moment
                session.rollback()
                return False
            return True

        return await self._database.run(work)

    async def offers_of(self, resident_id: str, household_id: str | None = None) -> list[Offer]:
        """The resident's offers, and (``household_id``) those of the household's members who
        have no account of their own, newest first (not those never sent: ENTITLED)."""

        def read(session: Session) -> list[Offer]:
            mine = col(Offer.resident_id) == resident_id
            if household_id is not None:
                members = and_(
                    col(Offer.household_id) == household_id, col(Offer.resident_id).is_(None)
                )
                mine = or_(mine, members)
            shown = and_(mine, col(Offer.state) != ENTITLED)
            query = select(Offer).where(shown).order_by(col(Offer.created_at).desc())
            return list(session.exec(query).all())

        return await self._database.run(read)

    async def accept(
        self, offer_id: str, via: str, now: datetime, *, key: str | None = None
    ) -> bool:
        """OFFERED → ACCEPTED, once (with the callback ``key`` recorded in the same
        transaction when given: a replay finds it and this is not done again)."""

        def work(session: Session) -> bool:
            if key is not None:
                session.add(OfferCallback(key=key, at=stamp(now)))
            changed = session.execute(
                update(Offer)
                .where(col(Offer.id) == offer_id, col(Offer.state) == OFFERED)
                .values(state=ACCEPTED, accepted_via=via)
            )
            session.commit()
            return bool(changed.rowcount == 1)  # type: ignore[attr-defined]

        try:
            return await self._database.run(work)
        except IntegrityError:
            return False

    async def offered_by_sms(self, phone: str, now: datetime) -> Offer | None:
        """The newest OFFERED offer sent by SMS to ``phone`` that has not expired by ``now``."""

        def read(session: Session) -> Offer | None:
            query = (
                select(Offer)
                .join(OfferDelivery, col(OfferDelivery.offer_id) == col(Offer.id))
                .where(
                    Offer.mobile == phone,
                    Offer.state == OFFERED,
                    col(Offer.expires_at) > stamp(now),
                    OfferDelivery.channel == "sms",
                    OfferDelivery.kind == "offer",
                    col(OfferDelivery.state).in_((SENT, DELIVERED)),
                )
                .order_by(col(Offer.created_at).desc())
            )
            return session.exec(query).first()

        return await self._database.run(read)

    async def subjects_of_phone(self, phone: str) -> list[str]:
        def read(session: Session) -> list[str]:
            query = select(Offer.subject).where(Offer.mobile == phone).distinct()
            return list(session.exec(query).all())

        return await self._database.run(read)

    async def claim_filing(
        self, now: datetime, today: date, hold_s: float, *, only: str | None = None
    ) -> list[Offer]:
        """Accepted offers not yet filed whose day has come (``only`` that one), each claimed
        for ``hold_s`` by a conditional update (a claim whose holder vanished lapses)."""
        at = stamp(now)
        free = or_(col(Offer.filing_until).is_(None), col(Offer.filing_until) < at)

        def work(session: Session) -> list[Offer]:
            query = select(Offer.id).where(
                Offer.state == ACCEPTED,
                col(Offer.decision_id).is_(None),
                col(Offer.eligible_from) <= today,
                free,
            )
            if only is not None:
                query = query.where(Offer.id == only)
            claimed: list[Offer] = []
            for offer_id in session.exec(query.limit(20)).all():
                done = session.execute(
                    update(Offer)
                    .where(col(Offer.id) == offer_id, col(Offer.decision_id).is_(None), free)
                    .values(filing_until=stamp(now + timedelta(seconds=hold_s)))
                )
                session.commit()
                if done.rowcount == 1:  # type: ignore[attr-defined]
                    found = session.get(Offer, offer_id)
                    if found is not None:
                        session.expunge(found)
                        claimed.append(found)
            return claimed

        return await self._database.run(work)

    async def filed(self, offer_id: str, decision_id: str | None, channels: Sequence[str],
                    now: datetime) -> None:  # fmt: skip
        """Record the decision (``None``: filing failed, let it be tried again) and queue its
        message on ``channels``."""

        def work(session: Session) -> None:
            offer = session.get(Offer, offer_id)
            if offer is None:
                return
            offer.decision_id = decision_id
            offer.filing_until = None
            session.add(offer)
            if decision_id is not None:
                for channel in channels:
                    session.add(
                        OfferDelivery(
                            offer_id=offer_id, channel=channel, kind="decision", state=PENDING,
                            not_before=stamp(now), updated_at=stamp(now),
                        )
                    )  # fmt: skip
            try:
                session.commit()
            except IntegrityError:
                session.rollback()

        await self._database.run(work)

    async def queue_finals(self, now: datetime, limit: int = 100) -> int:
        """A ``final`` delivery, on the channel the offer was accepted on, for each filed offer
        whose NEEDS_REVIEW decision's case is now decided (following a chain: a re-check's
        approval whose payment is pending again opens a case of its own); its ``decision``
        message is dropped if it still waits (the outcome comes instead). How many queued;
        a second caller, here or on another replica, inserts nothing."""
        at = stamp(now)

        def work(session: Session) -> int:
            has_final = (
                select(OfferDelivery.id)
                .where(col(OfferDelivery.offer_id) == col(Offer.id), OfferDelivery.kind == FINAL)
                .exists()
            )
            query = (
                select(Offer)
                .join(ReviewCase, col(ReviewCase.decision_id) == col(Offer.decision_id))
                .where(ReviewCase.state == "CLOSED", ~has_final)
                .order_by(col(ReviewCase.closed_at))
                .limit(limit)
            )
            queued = 0
            for offer in session.exec(query).all():
                decided, told = _closing_decision(session, offer.decision_id or "")
                if not decided:
                    continue  # the chain's last case is open still (or its record not yet)
                channel = offer.accepted_via or "app"
                made = session.execute(
                    _insert(session)(OfferDelivery)
                    .values(
                        offer_id=offer.id, channel=channel, kind=FINAL, state=PENDING,
                        not_before=at, updated_at=at, decision_id=told, attempts=0,
                    )
                    .on_conflict_do_nothing(index_elements=["offer_id", "channel", "kind"])
                    .returning(col(OfferDelivery.id))
                ).first()  # fmt: skip
                if made is None:  # queued already (by another round, here or on a replica)
                    continue
                queued += 1
                session.execute(
                    update(Offer).where(col(Offer.id) == offer.id).values(outcome_id=told)
                )
                session.execute(
                    update(OfferDelivery)
                    .where(
                        col(OfferDelivery.offer_id) == offer.id,
                        col(OfferDelivery.kind) == DECISION,
                        col(OfferDelivery.state).in_(DUE),
                    )
                    .values(state=SKIPPED, error="superseded by the final decision", updated_at=at)
                )
            session.commit()
            return queued

        return await self._database.run(work)

    async def expire(self, now: datetime) -> int:
        """OFFERED → EXPIRED for the offers whose time is up (the app's view says so on read
        already; this stores it): how many."""

        def work(session: Session) -> int:
            done = session.execute(
                update(Offer)
                .where(col(Offer.state) == OFFERED, col(Offer.expires_at) < stamp(now))
                .values(state=EXPIRED)
            )
            session.commit()
            return int(done.rowcount)  # type: ignore[attr-defined]

        return await self._database.run(work)

    async def mark_entitled(self, offer_id: str) -> None:
        """OFFERED → ENTITLED: its person holds the item's grant already."""

        def work(session: Session) -> None:
            session.execute(
                update(Offer)
                .where(col(Offer.id) == offer_id, col(Offer.state) == OFFERED)
                .values(state=ENTITLED)
            )
            session.commit()

        await self._database.run(work)

    # -- deliveries -------------------------------------------------------------------------

    async def claim_due(self, now: datetime, limit: int, hold_s: float) -> list[Claimed]:
        """Up to ``limit`` due deliveries, each claimed for ``hold_s`` by a conditional
        update: what another replica claimed first is not in the answer."""
        at = stamp(now)
        due = or_(
            and_(col(OfferDelivery.state).in_(DUE), col(OfferDelivery.not_before) <= at),
            and_(col(OfferDelivery.state) == SENDING, col(OfferDelivery.claimed_until) < at),
        )

        def work(session: Session) -> list[Claimed]:
            ids = session.exec(
                select(OfferDelivery.id).where(due).order_by(col(OfferDelivery.id)).limit(limit)
            ).all()
            claimed: list[Claimed] = []
            for delivery_id in ids:
                done = session.execute(
                    update(OfferDelivery)
                    .where(col(OfferDelivery.id) == delivery_id, due)
                    .values(
                        state=SENDING,
                        claimed_until=stamp(now + timedelta(seconds=hold_s)),
                        attempts=col(OfferDelivery.attempts) + 1,
                        updated_at=at,
                    )
                )
                session.commit()
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                delivery = session.get(OfferDelivery, delivery_id)
                assert delivery is not None and delivery.id is not None
                offer = session.get(Offer, delivery.offer_id)
                assert offer is not None
                session.expunge(offer)
                entitled = delivery.kind == OFFER and (
                    session.get(ApprovalGrant, (offer.subject, offer.item_code)) is not None
                )
                openid = None
                if delivery.channel == "wechat" and offer.resident_id is not None:
                    openid = session.exec(
                        select(AccountLink.account_id).where(
                            AccountLink.resident_id == offer.resident_id,
                            AccountLink.department == "wechat",
                        )
                    ).first()
                told = delivery.decision_id if delivery.kind == FINAL else offer.decision_id
                claimed.append(
                    Claimed(
                        delivery.id, delivery.channel, delivery.kind, offer, delivery.attempts,
                        openid, told, entitled,
                    )
                )  # fmt: skip
            return claimed

        return await self._database.run(work)

    async def finish(
        self,
        delivery_id: int,
        state: str,
        now: datetime,
        *,
        biz_id: str | None = None,
        error: str | None = None,
        not_before: datetime | None = None,
    ) -> None:
        """What became of a claimed delivery. A report that came before this (the gateway is
        quick) already moved it on: then only ``biz_id`` is kept."""

        def work(session: Session) -> None:
            values: dict[str, Any] = {"state": state, "error": error, "updated_at": stamp(now)}
            if biz_id is not None:
                values["biz_id"] = biz_id
            if not_before is not None:
                values["not_before"] = stamp(not_before)
            done = session.execute(
                update(OfferDelivery)
                .where(col(OfferDelivery.id) == delivery_id, col(OfferDelivery.state) == SENDING)
                .values(**values)
            )
            if done.rowcount == 0 and biz_id is not None:  # type: ignore[attr-defined]
                session.execute(
                    update(OfferDelivery)
                    .where(col(OfferDelivery.id) == delivery_id)
                    .values(biz_id=biz_id)
                )
            session.commit()

        await self._database.run(work)

    async def report(self, key: str, out_id: str, biz_id: str, delivered: bool,
                     now: datetime) -> tuple[str, str] | None:  # fmt: skip
        """A delivery report, once per ``key``: the delivery moves SENDING/SENT →
        DELIVERED/FAILED, never back. ``(item, event)`` when it moved, else ``None``."""

        def work(session: Session) -> tuple[str, str] | None:
            session.add(OfferCallback(key=key, at=stamp(now)))
            target = (
                col(OfferDelivery.id) == int(out_id)
                if out_id.isdigit()
                else col(OfferDelivery.biz_id) == biz_id
            )
            state = DELIVERED if delivered else FAILED
            done = session.execute(
                update(OfferDelivery)
                .where(target, col(OfferDelivery.state).in_((SENDING, SENT)))
                .values(state=state, updated_at=stamp(now))
            )
            moved = None
            if done.rowcount == 1:  # type: ignore[attr-defined]
                delivery = session.exec(select(OfferDelivery).where(target)).first()
                offer = session.get(Offer, delivery.offer_id) if delivery else None
                moved = (offer.item_code, state.lower()) if offer else None
            session.commit()
            return moved

        try:
            return await self._database.run(work)
        except IntegrityError:
            return None

    async def seen(self, key: str, now: datetime) -> bool:
        """Record callback ``key``; ``True`` when it was recorded before (a replay)."""

        def work(session: Session) -> bool:
            session.add(OfferCallback(key=key, at=stamp(now)))
            session.commit()
            return False

        try:
            return await self._database.run(work)
        except IntegrityError:
            return True

    async def pending(self) -> dict[str, int]:
        """Open deliveries (pending, deferred, sending) by item."""

        def read(session: Session) -> dict[str, int]:
            query = (
                select(Offer.item_code, OfferDelivery.id)
                .join(Offer, col(Offer.id) == col(OfferDelivery.offer_id))
                .where(col(OfferDelivery.state).in_(OPEN))
            )
            counts: dict[str, int] = {}
            for item, _ in session.exec(query).all():
                counts[item] = counts.get(item, 0) + 1
            return counts

        return await self._database.run(read)

    # -- opt-outs ---------------------------------------------------------------------------

    async def opt_out(self, subject: str, channel: str, now: datetime) -> None:
        def work(session: Session) -> None:
            if session.get(OfferOptOut, (subject, channel)) is None:
                session.add(OfferOptOut(subject=subject, channel=channel, at=stamp(now)))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()

        await self._database.run(work)

    async def opt_in(self, subject: str, channel: str) -> None:
        def work(session: Session) -> None:
            found = session.get(OfferOptOut, (subject, channel))
            if found is not None:
                session.delete(found)
                session.commit()

        await self._database.run(work)

    async def opted_out(self, subject: str, channel: str) -> bool:
        return await self._database.run(
            lambda s: s.get(OfferOptOut, (subject, channel)) is not None
        )

    async def opt_outs(self, subject: str) -> set[str]:
        def read(session: Session) -> set[str]:
            query = select(OfferOptOut.channel).where(OfferOptOut.subject == subject)
            return set(session.exec(query).all())

        return await self._database.run(read)

    # -- scan runs --------------------------------------------------------------------------

    async def take_lease(
        self, item: str, day: date, holder: str, now: datetime, ttl_s: float
    ) -> OfferScan | None:
        """The run of ``item`` for ``day``, leased to ``holder`` for ``ttl_s`` — created if
        new, taken over if its lease lapsed — or ``None`` when another holds it or it is done."""
        run = run_id(item, day)
        at, until = stamp(now), stamp(now + timedelta(seconds=ttl_s))

        def work(session: Session) -> OfferScan | None:
            if session.get(OfferScan, run) is None:
                session.add(OfferScan(id=run, item_code=item, day=day, started_at=at))
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()
            taken = session.execute(
                update(OfferScan)
                .where(
                    col(OfferScan.id) == run,
                    col(OfferScan.finished_at).is_(None),
                    or_(
                        col(OfferScan.lease_holder).is_(None),
                        col(OfferScan.lease_holder) == holder,
                        col(OfferScan.lease_until) < at,
                    ),
                )
                .values(lease_holder=holder, lease_until=until)
            )
            session.commit()
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            return session.get(OfferScan, run)

        return await self._database.run(work)

    async def renew_lease(self, run: str, holder: str, now: datetime, ttl_s: float) -> bool:
        def work(session: Session) -> bool:
            done = session.execute(
                update(OfferScan)
                .where(col(OfferScan.id) == run, col(OfferScan.lease_holder) == holder)
                .values(lease_until=stamp(now + timedelta(seconds=ttl_s)))
            )
            session.commit()
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

        return await self._database.run(work)

    async def add_persons(self, run: str, persons: int) -> None:
        """The rows of the last page (its commit counted the page before's)."""

        def work(session: Session) -> None:
            session.execute(
                update(OfferScan)
                .where(col(OfferScan.id) == run)
                .values(persons=col(OfferScan.persons) + persons)
            )
            session.commit()

        await self._database.run(work)

    async def release_lease(self, run: str, holder: str) -> None:
        def work(session: Session) -> None:
            session.execute(
                update(OfferScan)
                .where(col(OfferScan.id) == run, col(OfferScan.lease_holder) == holder)
                .values(lease_holder=None, lease_until=None)
            )
            session.commit()

        await self._database.run(work)

    async def runs(self) -> list[OfferScan]:
        """The latest run of each item."""

        def read(session: Session) -> list[OfferScan]:
            query = select(OfferScan).order_by(col(OfferScan.started_at).desc())
            latest: dict[str, OfferScan] = {}
            for run in session.exec(query).all():
                latest.setdefault(run.item_code, run)
            return list(latest.values())

        return await self._database.run(read)
