"""The resident's side of the offers (``schema.context.ResidentOffers``): the app's list, its
one-tap acceptance and the per-channel opt-outs, over the store and ``Acceptance``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import cast

from connectors.base import Connector
from connectors.wechat import WeChatConnector
from connectors.wechat.errors import InvalidCode
from hub.offers.acceptance import Acceptance
from hub.offers.broker import OfferBroker
from hub.offers.clock import Clock
from hub.offers.proactive import PROACTIVE
from hub.offers.store import ACCEPTED, ENTITLED, EXPIRED, OFFERED, OfferStore, stamp
from hub.store.models import Offer
from schema.context import (
    Approvals,
    OfferAcceptance,
    OfferView,
    ResidentProfile,
)

CHANNELS = frozenset({"sms", "wechat", "app"})
NOT_YOURS = ("NOT_FOUND", "没有这条推送。", "offerId")
EXPIRED_REFUSAL = ("OFFER_EXPIRED", "这条推送已过期，请直接申请。", "offerId")
CLOSED = ("OFFER_CLOSED", "这条推送已不能接受。", "offerId")
INVALID_CODE = ("INVALID_CODE", "授权已失效，请在公众号中重新打开页面。", "code")
TAKEN = ("CONFLICT", "这个微信已绑定另一位居民。", "code")
REFUSALS = {"ALREADY_ENTITLED": "您已在享受该项补贴，无需重复申请。"}


class AppOffers:
    """What ``me { offers }``, ``acceptOffer`` and ``setOfferChannel`` ask."""

    def __init__(
        self,
        store: OfferStore,
        acceptance: Acceptance,
        approvals: Approvals,
        *,
        clock: Clock,
        broker: OfferBroker,
        connectors: Mapping[str, Connector] | None = None,
    ) -> None:
        self._connectors: Mapping[str, Connector] = connectors if connectors is not None else {}
        self._broker = broker
        self._store = store
        self._acceptance = acceptance
        self._approvals = approvals
        self._clock = clock

    def _view(self, offer: Offer, resident: ResidentProfile | None = None) -> OfferView:
        item = PROACTIVE.get(offer.item_code)
        filed = offer.decision_id if not (offer.decision_id or "").startswith("refused:") else None
        state = offer.state
        if state == OFFERED and stamp(offer.expires_at) < stamp(self._clock()):
            state = EXPIRED
        return OfferView(
            id=offer.id, item_code=offer.item_code, item_name=item.name if item else "",
            reason=offer.reason, eligible_from=offer.eligible_from,
            expires_at=stamp(offer.expires_at), state=state,
            member_name=offer.name if resident is not None and offer.resident_id != resident.id
            else None,
            decision_id=offer.outcome_id or filed,
        )  # fmt: skip

    async def offers_of(self, resident: ResidentProfile) -> list[OfferView]:
        offers = await self._store.offers_of(resident.id, resident.household_id)
        return [self._view(o, resident) for o in offers]

    @staticmethod
    def _theirs(offer: Offer, resident: ResidentProfile) -> bool:
        """The resident's own offer, or one of a household member without an account."""
        if offer.resident_id is not None:
            return offer.resident_id == resident.id
        return offer.household_id is not None and offer.household_id == resident.household_id

    async def accept(self, resident: ResidentProfile, offer_id: str) -> OfferAcceptance:
        offer = await self._store.offer(offer_id)
        if offer is None or not self._theirs(offer, resident):
            return OfferAcceptance(None, refusal=NOT_YOURS)
        if offer.state == ENTITLED:
            code = "ALREADY_ENTITLED"
            return OfferAcceptance(None, refusal=(code, REFUSALS[code], None))
        view = self._view(offer, resident)
        if view.state == EXPIRED:
            return OfferAcceptance(view, refusal=EXPIRED_REFUSAL)
        if offer.state == OFFERED:
            await self._acceptance.accept_in_app(offer_id)
        elif offer.state != ACCEPTED:
            return OfferAcceptance(view, refusal=CLOSED)
        offer = await self._store.offer(offer_id)
        assert offer is not None
        view = self._view(offer, resident)
        decision_id = offer.decision_id
        if decision_id is None:
            return OfferAcceptance(view, filed_on=offer.eligible_from)
        if decision_id.startswith("refused:"):
            code = decision_id.removeprefix("refused:")
            return OfferAcceptance(view, refusal=(code, REFUSALS.get(code, "未能提交申请。"), None))
        return OfferAcceptance(view, decision=await self._approvals.decision(decision_id))

    async def set_channel(
        self, resident: ResidentProfile, channel: str, enabled: bool
    ) -> frozenset[str]:
        if channel not in CHANNELS:
            raise ValueError(channel)
        if enabled:
            await self._store.opt_in(resident.id_number, channel)
        else:
            await self._store.opt_out(resident.id_number, channel, self._clock())
        return frozenset(await self._store.opt_outs(resident.id_number))

    async def link_wechat(
        self, resident: ResidentProfile, code: str
    ) -> tuple[str, str, str | None] | None:
        wechat = cast(WeChatConnector, self._connectors["wechat"])
        try:
            openid = await wechat.openid_for_code(code)
        except InvalidCode:
            return INVALID_CODE
        if not await self._store.link_openid(resident.id, openid):
            return TAKEN
        return None

    async def subscribe(self, resident: ResidentProfile) -> AsyncIterator[OfferView]:
        async with self._broker.subscribe(resident.id, resident.household_id) as queue:
            while True:
                yield self._view(await queue.get(), resident)
