"""主动推送 in the app: ``me.offers``, ``acceptOffer`` and ``setOfferChannel``.

The schema asks the hub's offers (``info.context.offers``); scanning, sending and filing the
秒批 application live there. Accepting files the application for the offer's item — at once
for a NOW offer, on the day for an UPCOMING one (``filedOn``)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncGenerator
from enum import Enum
from typing import Any

import strawberry

from schema.approvals import ServiceApplication, application_of
from schema.common import IDEMPOTENCY_KEY_HELP, UserError, current_resident, idempotent
from schema.context import HubInfo, OfferView, ResidentProfile
from schema.errors import BadUserInput
from schema.masking import mask_name


@strawberry.enum(description="Why the offer was made.")
class OfferReason(Enum):
    UPCOMING = "UPCOMING"
    NOW = "NOW"


@strawberry.enum(description="Where the offer stands.")
class OfferState(Enum):
    OFFERED = "OFFERED"
    ACCEPTED = "ACCEPTED"
    EXPIRED = "EXPIRED"
    REFUSED = "REFUSED"


@strawberry.enum(description="A channel offers reach residents on.")
class OfferChannel(Enum):
    SMS = "sms"
    WECHAT = "wechat"
    APP = "app"


@strawberry.type(description="The service item an offer is for.")
class OfferItem:
    code: str
    name: str


@strawberry.type(description="主动推送 · A service offered to the resident before they asked.")
class Offer:
    id: strawberry.ID
    item: OfferItem
    reason: OfferReason
    eligible_from: dt.date = strawberry.field(description="The first day the item is theirs.")
    expires_at: dt.datetime
    state: OfferState
    for_member: str | None = strawberry.field(
        description="A household member's offer (one without an account of their own): their "
        "name, masked; you may accept it for them. Null when it is yours."
    )
    decision_id: strawberry.Private[str | None] = None

    @strawberry.field(
        description="Its 秒批 application once accepted and filed, with the decision — after a "
        "review (NEEDS_REVIEW), the review's outcome once decided. Null before."
    )
    async def application(self, info: HubInfo) -> ServiceApplication | None:
        if self.decision_id is None:
            return None
        decision = await info.context.approvals.decision(self.decision_id)
        return application_of(decision) if decision is not None else None


def offer_of(view: OfferView) -> Offer:
    return Offer(
        id=strawberry.ID(view.id), item=OfferItem(code=view.item_code, name=view.item_name),
        reason=OfferReason(view.reason), eligible_from=view.eligible_from,
        expires_at=view.expires_at, state=OfferState(view.state),
        for_member=mask_name(view.member_name) if view.member_name else None,
        decision_id=view.decision_id,
    )  # fmt: skip


@strawberry.type(description="The accepted offer, and its application once filed.")
class AcceptOfferPayload:
    offer: Offer | None
    application: ServiceApplication | None
    filed_on: dt.date | None = strawberry.field(
        description="When an accepted UPCOMING offer's application is filed (automatically)."
    )
    user_errors: list[UserError]


@strawberry.input(description="Accept an offer: one tap files its 秒批 application.")
class AcceptOfferInput:
    offer_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="Whether offers come on a channel.")
class OfferChannelSetting:
    channel: OfferChannel
    enabled: bool


@strawberry.type(description="Every channel, with whether offers now come on it.")
class SetOfferChannelPayload:
    channels: list[OfferChannelSetting]
    user_errors: list[UserError]


@strawberry.input(description="Receive offers on a channel, or not (SMS: as replying TD).")
class SetOfferChannelInput:
    channel: OfferChannel
    enabled: bool
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(
    description="Link your WeChat to i罗湖 so that offers reach you there: the `code` WeChat "
    "gave the service account's page when you opened it (its redirect's `code` parameter)."
)
class LinkWeChatInput:
    code: str
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="Whether your WeChat is linked now, or why not.")
class LinkWeChatPayload:
    linked: bool
    user_errors: list[UserError]


WECHAT_CODE = re.compile(r"[A-Za-z0-9_-]{1,128}")


async def my_offers(info: HubInfo, resident: ResidentProfile) -> list[Offer]:
    return [offer_of(v) for v in await info.context.offers.offers_of(resident)]


@strawberry.type
class OffersMutation:
    @strawberry.mutation(
        description="主动推送 · Accept an offer made to you: files the item's 秒批 application "
        "(an UPCOMING offer on the day it becomes yours) and answers its decision. Refusals: "
        "NOT_FOUND, OFFER_EXPIRED, OFFER_CLOSED, ALREADY_ENTITLED."
    )
    async def accept_offer(self, info: HubInfo, input: AcceptOfferInput) -> AcceptOfferPayload:
        resident = await current_resident(info)
        offer_id = str(input.offer_id)
        if not 1 <= len(offer_id) <= 32:
            raise BadUserInput("`offerId` must be 1 to 32 characters.", field="offerId")
        offers = info.context.offers

        async def perform(_key: str) -> dict[str, Any]:
            accepted = await offers.accept(resident, offer_id)
            outcome: dict[str, Any] = {
                "decisionId": accepted.decision.decision_id if accepted.decision else None,
                "filedOn": accepted.filed_on.isoformat() if accepted.filed_on else None,
            }
            if accepted.refusal:
                code, message, field = accepted.refusal
                outcome["userErrors"] = [{"code": code, "message": message, "field": field}]
            return outcome

        outcome = await idempotent(
            info, resident, operation="acceptOffer", key=input.idempotency_key,
            arguments={"offer": offer_id}, perform=perform,
        )  # fmt: skip
        views = {v.id: v for v in await offers.offers_of(resident)}
        decision = None
        if outcome.get("decisionId"):
            decision = await info.context.approvals.decision(outcome["decisionId"])
        filed = outcome.get("filedOn")
        return AcceptOfferPayload(
            offer=offer_of(views[offer_id]) if offer_id in views else None,
            application=application_of(decision) if decision else None,
            filed_on=dt.date.fromisoformat(filed) if filed and decision is None else None,
            user_errors=[UserError(**e) for e in outcome.get("userErrors", [])],
        )

    @strawberry.mutation(
        description="绑定微信 · Link the WeChat user who opened the service account's page (its "
        "one-time `code`) to you, so that WeChat offers reach you. Refusals: INVALID_CODE "
        "(unknown, expired after 5 minutes, or used), CONFLICT (another resident's WeChat)."
    )
    async def link_we_chat(self, info: HubInfo, input: LinkWeChatInput) -> LinkWeChatPayload:
        resident = await current_resident(info)
        code = input.code.strip()
        if not WECHAT_CODE.fullmatch(code):
            raise BadUserInput("`code` is WeChat's code: 1 to 128 letters or digits.", field="code")
        offers = info.context.offers

        async def perform(_key: str) -> dict[str, Any]:
            refusal = await offers.link_wechat(resident, code)
            if refusal is None:
                return {"linked": True}
            error, message, field = refusal
            return {"linked": False, "userErrors": [
                {"code": error, "message": message, "field": field}
            ]}  # fmt: skip

        outcome = await idempotent(
            info, resident, operation="linkWeChat", key=input.idempotency_key,
            arguments={"code": code}, perform=perform,
        )  # fmt: skip
        return LinkWeChatPayload(
            linked=bool(outcome.get("linked")),
            user_errors=[UserError(**e) for e in outcome.get("userErrors", [])],
        )

    @strawberry.mutation(
        description="主动推送 · Receive offers on a channel or stop them (SMS, WeChat, the app)."
    )
    async def set_offer_channel(
        self, info: HubInfo, input: SetOfferChannelInput
    ) -> SetOfferChannelPayload:
        resident = await current_resident(info)
        offers = info.context.offers

        async def perform(_key: str) -> dict[str, Any]:
            off = await offers.set_channel(resident, input.channel.value, input.enabled)
            return {"off": sorted(off)}

        arguments = {"channel": input.channel.value, "enabled": input.enabled}
        outcome = await idempotent(
            info, resident, operation="setOfferChannel", key=input.idempotency_key,
            arguments=arguments, perform=perform,
        )  # fmt: skip
        off = set(outcome.get("off", []))
        return SetOfferChannelPayload(
            channels=[
                OfferChannelSetting(channel=c, enabled=c.value not in off) for c in OfferChannel
            ],
            user_errors=[],
        )


@strawberry.type(name="Subscription", description="实时推送 · What the hub pushes as it happens.")
class OffersSubscription:
    @strawberry.subscription(
        description="主动推送 · Each offer made to the signed-in resident (or to a household "
        "member without an account of their own: `forMember`) from now on, as it is made, and "
        "again as its application's decision comes (graphql-transport-ws; the token goes in "
        "connection_init's payload as "
        '`{"Authorization": "Bearer …"}`).'
    )
    async def offers(self, info: HubInfo) -> AsyncGenerator[Offer, None]:
        resident = await current_resident(info)
        async for view in info.context.offers.subscribe(resident):
            yield offer_of(view)
