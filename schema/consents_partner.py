"""Consents (帮办), the bank window's side: redeem the code, read what was granted, file.

Only a partner (a bank's window system, through its manifest's operations) calls these. Every
check is made from the hub's record of the consent, never from the request:

- ``redeemConsent``: one attempt taken from the partner's redemption bucket first (shared by
  the replicas: brute force ends in ``RATE_LIMITED``); the code must be unredeemed, unexpired,
  unrevoked and granted to this partner's bank (and to this partner, if the resident named
  one), else ``NOT_FOUND`` — which of those failed is not told.
- reads and ``fileUnderConsent``: the consent must have been redeemed by this partner
  (``NOT_FOUND`` otherwise: other residents' consents do not exist for it), still be live
  (``FORBIDDEN`` after expiry or revocation), grant the scope read (``FORBIDDEN``), and be for
  the item filed (``FORBIDDEN``).

Everything under a consent is audited with the partner as principal, the resident as subject
and the consent's id (``AuditTrail.consents``), the refused attempts included.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.approvals import DecisionReason, answers_of
from schema.common import IDEMPOTENCY_KEY_HELP, Money, UserError, idempotent_in, user_errors
from schema.consents import UnmaskedField
from schema.context import (
    CallerKind,
    ConsentRecord,
    ConsentScope,
    FiledApplication,
    HubInfo,
    ResidentProfile,
)
from schema.errors import BadUserInput, Forbidden, NotFound, RateLimited
from schema.masking import Identifier, shown_under_consent
from schema.services.items import ServiceMaterial, material_of

CODE = re.compile(r"\d{6}")


def _partner(info: HubInfo) -> tuple[str, str]:
    """The calling partner's id and bank; ``FORBIDDEN`` for anyone else."""
    principal = info.context.principal
    if (
        principal.kind is not CallerKind.PARTNER
        or principal.partner_id is None
        or principal.partner_bank is None
    ):
        raise Forbidden(f"`{info.field_name}` is for partner banks' window systems only.")
    return principal.partner_id, principal.partner_bank


def _noted(info: HubInfo, record: ConsentRecord) -> None:
    """Log this request as done under ``record``: the resident is whose data it touches."""
    info.context.audit.subjects.add(record.resident_id)
    info.context.audit.consents.add(record.id)


async def live_consent(info: HubInfo, consent_id: str) -> ConsentRecord:
    """The consent this partner redeemed, while it is live; the refusals of the module doc."""
    partner_id, bank = _partner(info)
    store = info.context.consents
    record = await store.get(consent_id)
    if record is None or record.redeemed_by != partner_id or record.bank != bank:
        raise NotFound("No consent of that id was redeemed by you.", field="consentId")
    _noted(info, record)
    if record.revoked_at is not None:
        raise Forbidden("The resident revoked this consent.", reason="REVOKED")
    if store.now() >= record.expires_at:
        raise Forbidden("This consent has expired.", reason="EXPIRED")
    return record


def _granted(record: ConsentRecord, scope: ConsentScope) -> None:
    if scope not in record.scopes:
        raise Forbidden(
            f"The consent does not grant {scope.name}.", reason="NOT_GRANTED", scope=scope.name
        )


@strawberry.type(description="Someone in the resident's household, as the consent shows them.")
class ConsentedPerson:
    name: str = strawberry.field(description="Masked unless the consent unmasks NAME.")
    birth_date: dt.date


@strawberry.type(description="An application filed for the resident under a consent.")
class ConsentedApplication:
    id: strawberry.ID
    item_code: strawberry.ID
    state: str = strawberry.field(
        description="RECEIVED (an ordinary item, recorded for its department); for a 秒批 item "
        "the decision's outcome, APPROVED, REJECTED or NEEDS_REVIEW (the newest: a review "
        "changes it), AWAITING_INSTANT until it is in, or REFUSED (`refusal` says why)."
    )
    filed_at: dt.datetime
    filed_by: strawberry.ID = strawberry.field(description="The partner that filed it.")
    consent_id: strawberry.ID
    reasons: list[DecisionReason] = strawberry.field(
        description="A 秒批 decision's reasons (fit to show the resident); empty otherwise."
    )
    monthly_amount: Money | None = strawberry.field(description="When approved with an amount.")
    refusal: UserError | None = strawberry.field(
        description="Why the approval service refused before deciding (e.g. ALREADY_ENTITLED)."
    )


def application_of(filed: FiledApplication) -> ConsentedApplication:
    decision = filed.decision
    amount = decision.amount_fen if decision is not None else None
    refusal = filed.refusal
    return ConsentedApplication(
        id=strawberry.ID(filed.id),
        item_code=strawberry.ID(filed.item_code),
        state=filed.state,
        filed_at=filed.filed_at,
        filed_by=strawberry.ID(filed.partner_id),
        consent_id=strawberry.ID(filed.consent_id),
        reasons=[DecisionReason(code=r.code, message=r.message) for r in decision.reasons]
        if decision is not None
        else [],
        monthly_amount=Money(fen=amount) if amount is not None else None,
        refusal=UserError(code=refusal[0], message=refusal[1], field=None) if refusal else None,
    )


@strawberry.type(
    description="帮办授权 · A resident's consent your window redeemed: only the granted fields "
    "answer (FORBIDDEN otherwise), unmasked only where granted."
)
class PartnerConsent:
    record: strawberry.Private[ConsentRecord]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.record.id)

    @strawberry.field(description="The one item this consent is for (implementation code).")
    def item_code(self) -> strawberry.ID:
        return strawberry.ID(self.record.item_code)

    @strawberry.field
    def scopes(self) -> list[ConsentScope]:
        return sorted(self.record.scopes, key=lambda s: s.value)

    @strawberry.field
    def unmasked(self) -> list[UnmaskedField]:
        return sorted((UnmaskedField(u) for u in self.record.unmasked), key=lambda u: u.value)

    @strawberry.field
    def expires_at(self) -> dt.datetime:
        return self.record.expires_at

    async def _profile(self, info: HubInfo, scope: ConsentScope) -> ResidentProfile:
        _granted(self.record, scope)
        profile = await info.context.directory.profile(self.record.resident_id)
        if profile is None:
            raise NotFound("The resident is not known to the hub.")
        return profile

    @strawberry.field(description="IDENTITY: the resident's name.")
    async def name(self, info: HubInfo) -> str | None:
        profile = await self._profile(info, ConsentScope.IDENTITY)
        return shown_under_consent(self.record.unmasked, Identifier.NAME, profile.name)

    @strawberry.field(description="IDENTITY: the resident's ID number.")
    async def id_number(self, info: HubInfo) -> str | None:
        profile = await self._profile(info, ConsentScope.IDENTITY)
        return shown_under_consent(self.record.unmasked, Identifier.ID_NUMBER, profile.id_number)

    @strawberry.field(description="HOUSEHOLD_MEMBERS: the people the resident lives with.")
    async def household_members(self, info: HubInfo) -> list[ConsentedPerson] | None:
        profile = await self._profile(info, ConsentScope.HOUSEHOLD_MEMBERS)
        unmasked = self.record.unmasked
        return [
            ConsentedPerson(
                name=shown_under_consent(unmasked, Identifier.NAME, person.name),
                birth_date=person.birth_date,
            )
            for person in profile.household
            if person.resident_id != profile.id
        ]

    @strawberry.field(
        description="MATERIALS: what the item asks for, and which the hub supplies as e-licences."
    )
    async def materials(self, info: HubInfo) -> list[ServiceMaterial] | None:
        _granted(self.record, ConsentScope.MATERIALS)
        item = await info.context.catalogue.item(self.record.item_code)
        return [material_of(m) for m in item.materials] if item else None

    @strawberry.field(description="APPLICATION_STATE: the item's applications filed for them.")
    async def applications(self, info: HubInfo) -> list[ConsentedApplication] | None:
        _granted(self.record, ConsentScope.APPLICATION_STATE)
        filed = await info.context.filings.filed(self.record.resident_id, self.record.item_code)
        return [application_of(f) for f in filed]


@strawberry.input(description="Redeem the 6-digit code a resident shows at your window.")
class RedeemConsentInput:
    code: str
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="File the consent's item for the resident.")
class FileUnderConsentInput:
    consent_id: strawberry.ID
    item_code: strawberry.ID = strawberry.field(description="Must be the consent's item.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)
    answers: JSON | None = strawberry.field(
        default=None,
        description="What a 秒批 item asks the applicant (as `applyForService`'s answers), "
        'e.g. {"certNo": "…"}; string values.',
    )


@strawberry.type(description="The filed application, or why there was none.")
class FileUnderConsentPayload:
    application: ConsentedApplication | None
    user_errors: list[UserError]


@strawberry.type
class PartnerConsentMutation:
    @strawberry.mutation(
        description="兑换授权码 · For partner window systems: redeem a resident's consent code "
        "(once; your bank only). Attempts are limited per partner (RATE_LIMITED); an unknown, "
        "used, expired or revoked code, or another bank's, is NOT_FOUND."
    )
    async def redeem_consent(self, info: HubInfo, input: RedeemConsentInput) -> PartnerConsent:
        partner_id, bank = _partner(info)
        if not await info.context.redemption_attempts.take(partner_id):
            raise RateLimited("Too many consent codes tried; wait before trying again.")
        code = input.code.strip()
        if not CODE.fullmatch(code):
            raise BadUserInput("A consent code is 6 digits.", field="code")
        store = info.context.consents

        async def perform(_: str) -> dict[str, Any]:
            record = await store.redeem(code, partner_id=partner_id, bank=bank)
            return {"consent": record.id if record else None}

        outcome = await idempotent_in(
            info, f"partner:{partner_id}", operation="redeemConsent",
            key=input.idempotency_key, arguments={"code": code}, perform=perform,
        )  # fmt: skip
        if not outcome.get("consent"):
            raise NotFound("No redeemable consent has that code.", field="code")
        return PartnerConsent(record=await live_consent(info, outcome["consent"]))

    @strawberry.mutation(
        description="代为申请 · For partner window systems: file the consent's item for the "
        "resident (秒批 where the item is instant), once per consent. Needs FILE_APPLICATION."
    )
    async def file_under_consent(
        self, info: HubInfo, input: FileUnderConsentInput
    ) -> FileUnderConsentPayload:
        partner_id, _ = _partner(info)
        record = await live_consent(info, str(input.consent_id))
        _granted(record, ConsentScope.FILE_APPLICATION)
        item = await info.context.catalogue.item(str(input.item_code))
        if item is None or item.impl_code != record.item_code:
            raise Forbidden("The consent is for another item.", field="itemCode")

        answers = answers_of(input.answers)
        approvals = info.context.approvals
        rule_code = approvals.rule_code(item.impl_code, item.name) if item.instant else None
        needed = approvals.required_answers(rule_code) if rule_code is not None else ()
        missing = [a for a in needed if not answers.get(a, "").strip()]
        if missing:  # before anything is written
            raise BadUserInput(f"The item asks for the answer `{missing[0]}`.", field="answers")

        async def perform(_: str) -> dict[str, Any]:
            filed = await info.context.filings.file(
                resident_id=record.resident_id, item_code=record.item_code,
                partner_id=partner_id, consent_id=record.id, rule_code=rule_code,
                answers=answers,
            )  # fmt: skip
            return {"application": filed.id}

        outcome = await idempotent_in(
            info, f"partner:{partner_id}", operation="fileUnderConsent",
            key=input.idempotency_key, arguments={"consent": record.id, "answers": answers},
            perform=perform,
        )  # fmt: skip
        filed = await info.context.filings.filed(record.resident_id, record.item_code)
        found = next((f for f in filed if f.id == outcome.get("application")), None)
        return FileUnderConsentPayload(
            application=application_of(found) if found else None,
            user_errors=user_errors(outcome),
        )
