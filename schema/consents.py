"""Consents (帮办), the resident's side: grant one to a bank's window, see, revoke.

A consent lets one bank's window system (at a branch the resident chose, or one named partner
system) read named parts of the resident's data and file one item's application, for at most
15 minutes, once it has redeemed the 6-digit code shown on the phone (``schema.consents_partner``).
The code is in the answer of ``grantConsent`` only: the hub keeps a keyed hash of it.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

import strawberry

from schema.bank import Bank, bank_loaders
from schema.common import IDEMPOTENCY_KEY_HELP, UserError, current_resident, idempotent, user_errors
from schema.context import ConsentGrant, ConsentRecord, ConsentScope, HubInfo
from schema.errors import BadUserInput, NotFound
from schema.links import DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, ImageFormat, SizeOutOfBounds, secret_qr
from schema.masking import Identifier
from schema.pagination import check_first
from schema.qr import QrFormat
from schema.services.items import ServiceItem, item_of

MAX_MINUTES = 15
QR_PREFIX = "iluohu-consent:"
"""What the consent's QR code encodes, before the code: a window's scanner reads the code."""

strawberry.enum(
    ConsentScope,
    name="ConsentScope",
    description="What a consent lets the bank's window see or do: IDENTITY (name, ID number), "
    "HOUSEHOLD_MEMBERS, MATERIALS (the item's materials and which the hub supplies), "
    "APPLICATION_STATE (the item's applications filed for you), FILE_APPLICATION (file it).",
)


@strawberry.enum(description="A personal identifier a consent may show in full (else masked).")
class UnmaskedField(Enum):
    NAME = Identifier.NAME.value
    ID_NUMBER = Identifier.ID_NUMBER.value


@strawberry.enum(description="Where a consent stands.")
class ConsentStatus(Enum):
    PENDING = "PENDING"
    """Granted, the code not redeemed yet."""
    REDEEMED = "REDEEMED"
    EXPIRED = "EXPIRED"
    REVOKED = "REVOKED"


@strawberry.type(description="授权 · A consent you gave a bank's window for one item.")
class Consent:
    id: strawberry.ID
    item_code: strawberry.ID = strawberry.field(description="The item's implementation code.")
    bank: Bank
    branch_id: strawberry.ID | None = strawberry.field(description="The branch, if you chose one.")
    partner_id: strawberry.ID | None = strawberry.field(
        description="The one window system allowed, if you named one."
    )
    scopes: list[ConsentScope]
    unmasked: list[UnmaskedField] = strawberry.field(description="Shown in full, not masked.")
    granted_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    redeemed_at: dt.datetime | None
    redeemed_by: strawberry.ID | None = strawberry.field(description="The partner that redeemed.")
    status: ConsentStatus

    @strawberry.field(description="The service item.")
    async def item(self, info: HubInfo) -> ServiceItem | None:
        found = await info.context.catalogue.item(str(self.item_code))
        return item_of(found) if found else None


def status_of(record: ConsentRecord, now: dt.datetime) -> ConsentStatus:
    if record.revoked_at is not None:
        return ConsentStatus.REVOKED
    if now >= record.expires_at:
        return ConsentStatus.EXPIRED
    return ConsentStatus.REDEEMED if record.redeemed_at else ConsentStatus.PENDING


def _optional_id(value: str | None) -> strawberry.ID | None:
    return strawberry.ID(value) if value else None


def consent_of(record: ConsentRecord, now: dt.datetime) -> Consent:
    optional_id = _optional_id
    return Consent(
        id=strawberry.ID(record.id),
        item_code=strawberry.ID(record.item_code),
        bank=Bank(record.bank),
        branch_id=optional_id(record.branch_id),
        partner_id=optional_id(record.partner_id),
        scopes=sorted(record.scopes, key=lambda s: s.value),
        unmasked=sorted((UnmaskedField(u) for u in record.unmasked), key=lambda u: u.value),
        granted_at=record.granted_at,
        expires_at=record.expires_at,
        revoked_at=record.revoked_at,
        redeemed_at=record.redeemed_at,
        redeemed_by=optional_id(record.redeemed_by),
        status=status_of(record, now),
    )


@strawberry.type(description="The code's QR image, for the window's scanner.")
class ConsentQrCode:
    format: QrFormat
    size: int = strawberry.field(description="Width and height in pixels.")
    svg: str | None = strawberry.field(description="The SVG markup; null for PNG.")
    data_uri: str = strawberry.field(description="The image as a `data:` URI.")


@strawberry.input(description="Let a bank's window act for you on one item, briefly.")
class GrantConsentInput:
    item_code: strawberry.ID = strawberry.field(
        description="The item, by implementation or local code."
    )
    bank: Bank
    branch_id: strawberry.ID | None = strawberry.field(
        default=None, description="The branch whose window helps you (one of the bank's)."
    )
    partner_id: strawberry.ID | None = strawberry.field(
        default=None, description="Or: the one window system allowed (the teller shows its id)."
    )
    scopes: list[ConsentScope]
    unmasked: list[UnmaskedField] = strawberry.field(default_factory=list)
    minutes: int = strawberry.field(default=MAX_MINUTES, description=f"1 to {MAX_MINUTES}.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="Withdraw a consent at once.")
class RevokeConsentInput:
    consent_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="The new consent and its one-time code.")
class GrantConsentPayload:
    consent: Consent | None
    code: str | None = strawberry.field(
        description="The 6-digit code to show the teller. Only in the first answer: a repeat "
        "with the same idempotency key answers null (the hub does not keep the code)."
    )
    user_errors: list[UserError]

    @strawberry.field(
        description=f"The code as a QR code; null with the code. `size`: {MIN_SIZE}–{MAX_SIZE}."
    )
    def qr_code(
        self, format: QrFormat = ImageFormat.SVG, size: int = DEFAULT_SIZE
    ) -> ConsentQrCode | None:
        if self.code is None:
            return None
        try:
            image = secret_qr(QR_PREFIX + self.code, format, size)
        except SizeOutOfBounds as exc:
            raise BadUserInput(str(exc), field="size") from exc
        svg = image.data.decode("utf-8") if format is ImageFormat.SVG else None
        return ConsentQrCode(format=format, size=image.size, svg=svg, data_uri=image.data_uri)


@strawberry.type(description="The consent after the change.")
class ConsentPayload:
    consent: Consent | None
    user_errors: list[UserError]


async def my_consents(info: HubInfo, resident_id: str, first: int) -> list[Consent]:
    check_first(first)
    store = info.context.consents
    now = store.now()
    return [consent_of(r, now) for r in await store.of_resident(resident_id, first=first)]


async def _check_place(info: HubInfo, input: GrantConsentInput) -> str:
    """The item's implementation code, once the item, branch and bank fit together."""
    item = await info.context.catalogue.item(str(input.item_code))
    if item is None:
        raise NotFound("No such service item.", field="itemCode")
    connector = bank_loaders(info, input.bank).connector
    if not any(i.code == item.local_code for i in await connector.items()):
        raise BadUserInput("That bank's windows do not handle this item.", field="itemCode")
    if input.branch_id is not None and not any(
        b.id == str(input.branch_id) for b in await connector.branches()
    ):
        raise NotFound("That bank has no such branch.", field="branchId")
    return item.impl_code


@strawberry.type
class ConsentMutation:
    @strawberry.mutation(
        description="授权帮办 · "
        f"Let a bank's window read the named data and file one item for you, for 1–{MAX_MINUTES} "
        "minutes, once it redeems the 6-digit code (one redemption). Everything it does is in "
        "your data access log."
    )
    async def grant_consent(self, info: HubInfo, input: GrantConsentInput) -> GrantConsentPayload:
        resident = await current_resident(info)
        if not 1 <= input.minutes <= MAX_MINUTES:
            raise BadUserInput(f"`minutes` must be 1 to {MAX_MINUTES}.", field="minutes")
        if not input.scopes:
            raise BadUserInput("Name at least one scope.", field="scopes")
        if input.branch_id is not None and input.partner_id is not None:
            raise BadUserInput("Name a branch or a partner, not both.", field="partnerId")
        item_code = await _check_place(info, input)
        store, codes = info.context.consents, []
        grant = ConsentGrant(
            resident_id=resident.id,
            item_code=item_code,
            bank=input.bank.value,
            branch_id=str(input.branch_id) if input.branch_id is not None else None,
            partner_id=str(input.partner_id) if input.partner_id is not None else None,
            scopes=frozenset(input.scopes),
            unmasked=frozenset(u.value for u in input.unmasked),
            minutes=input.minutes,
        )

        async def perform(_: str) -> dict[str, Any]:
            record, code = await store.grant(grant)
            codes.append(code)  # this answer only: the outcome kept for repeats has no code
            return {"consent": record.id}

        arguments = {
            "item": grant.item_code, "bank": grant.bank, "branch": grant.branch_id,
            "partner": grant.partner_id, "scopes": sorted(s.value for s in grant.scopes),
            "unmasked": sorted(grant.unmasked), "minutes": grant.minutes,
        }  # fmt: skip
        outcome = await idempotent(
            info, resident, operation="grantConsent", key=input.idempotency_key,
            arguments=arguments, perform=perform,
        )  # fmt: skip
        record = await store.get(outcome["consent"]) if outcome.get("consent") else None
        return GrantConsentPayload(
            consent=consent_of(record, store.now()) if record else None,
            code=codes[0] if codes else None,
            user_errors=user_errors(outcome),
        )

    @strawberry.mutation(
        description="撤销授权 · Revoke a consent: the window can read and do nothing more under "
        "it, at once. Revoking twice answers the consent as it is."
    )
    async def revoke_consent(self, info: HubInfo, input: RevokeConsentInput) -> ConsentPayload:
        resident = await current_resident(info)
        store, consent_id = info.context.consents, str(input.consent_id)

        async def perform(_: str) -> dict[str, Any]:
            record = await store.revoke(resident.id, consent_id)
            if record is None:
                return {"userErrors": [
                    {"code": "NOT_FOUND", "message": "没有找到这项授权。", "field": "consentId"}
                ]}  # fmt: skip
            return {"consent": record.id}

        outcome = await idempotent(
            info, resident, operation="revokeConsent", key=input.idempotency_key,
            arguments={"consent": consent_id}, perform=perform,
        )  # fmt: skip
        record = await store.get(outcome["consent"]) if outcome.get("consent") else None
        return ConsentPayload(
            consent=consent_of(record, store.now()) if record else None,
            user_errors=user_errors(outcome),
        )
