"""秒批: ``applyForService`` and ``me.applications`` (the decisions and what they rested on).

The schema only asks the hub's approval service (``info.context.approvals``); the rules, the
evidence and the decision record live there."""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from schema.common import IDEMPOTENCY_KEY_HELP, Money, UserError, current_resident, idempotent
from schema.context import ApplicationResult, Decision, HubInfo
from schema.errors import BadUserInput
from schema.masking import mask_id_number

MAX_ANSWERS = 16
ID_NUMBER = re.compile(r"\d{17}[\dX]")


@strawberry.enum(description="What the rules concluded.")
class DecisionOutcome(Enum):
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    NEEDS_REVIEW = "NEEDS_REVIEW"


@strawberry.type(description="Why: a reason code and a sentence fit to show (Chinese).")
class DecisionReason:
    code: str
    message: str


@strawberry.type(description="One fact the decision read, from which department and when.")
class DecisionEvidence:
    department: str
    fact: str
    fetched_at: dt.datetime
    answered: bool = strawberry.field(description="False when the department did not answer.")
    value: str | None = strawberry.field(
        description="The value as the rules read it, personal dates masked to the year."
    )


@strawberry.type(description="A recorded decision: outcome, reasons, evidence, versions.")
class ServiceDecision:
    id: strawberry.ID
    outcome: DecisionOutcome
    reasons: list[DecisionReason]
    evidence: list[DecisionEvidence]
    rule_version: str
    parameter_version: str
    decided_on: dt.date = strawberry.field(description="The day (Shanghai) the rules applied.")
    monthly_amount: Money | None


@strawberry.type(description="An application for a 秒批 item and its decision.")
class ServiceApplication:
    item_code: str
    impl_code: str
    subject: str = strawberry.field(description="Whom it is for: the ID number, masked.")
    decided_at: dt.datetime | None
    decision: ServiceDecision


@strawberry.type(description="The application's decision, or why there was none.")
class ApplyForServicePayload:
    application: ServiceApplication | None
    next_step: str | None = strawberry.field(description="What happens next, fit to show.")
    first_payment_month: str | None = strawberry.field(description="yyyy-MM, when paid.")
    user_errors: list[UserError]


@strawberry.input(description="Apply for a 秒批 item for yourself or a household member.")
class ApplyForServiceInput:
    item_code: str = strawberry.field(description="The item (e.g. elderly_allowance) or impl code.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)
    answers: JSON | None = strawberry.field(
        default=None, description='The answers the item asks for, e.g. {"certNo": "…"}.'
    )
    for_member: str | None = strawberry.field(
        default=None, description="The ID number of a member of your registered household."
    )


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        parts = []
        for key in sorted(value):
            item = value[key]
            if isinstance(item, str) and len(item) == 10 and item[4] == "-":
                item = item[:4] + "-**-**"
            parts.append(f"{key}={item}")
        return ", ".join(parts)
    return str(value)


def answers_of(given: Any) -> dict[str, str]:
    """An item's answers as the input gave them (a JSON object of short strings), checked."""
    if given is not None and not isinstance(given, dict):
        raise BadUserInput("`answers` must be an object of strings.", field="answers")
    raw: dict[Any, Any] = given if isinstance(given, dict) else {}
    if len(raw) > MAX_ANSWERS or any(
        not isinstance(v, str | int) or len(str(k)) > 32 or len(str(v)) > 128
        for k, v in raw.items()
    ):
        raise BadUserInput(
            f"`answers`: at most {MAX_ANSWERS}, names ≤ 32 and values ≤ 128 characters.",
            field="answers",
        )
    return {str(k): str(v) for k, v in raw.items()}


def application_of(decision: Decision) -> ServiceApplication:
    amount = decision.amount_fen
    return ServiceApplication(
        item_code=decision.item,
        impl_code=decision.impl_code,
        subject=mask_id_number(decision.subject),
        decided_at=decision.at,
        decision=ServiceDecision(
            id=strawberry.ID(decision.decision_id),
            outcome=DecisionOutcome(decision.outcome),
            reasons=[DecisionReason(code=r.code, message=r.message) for r in decision.reasons],
            evidence=[
                DecisionEvidence(
                    department=f.department,
                    fact=f.fact,
                    fetched_at=f.fetched_at,
                    answered=f.value is not None,
                    value=_shown(f.value),
                )
                for f in decision.evidence
            ],
            rule_version=decision.rule_version,
            parameter_version=decision.parameter_version,
            decided_on=decision.day,
            monthly_amount=Money(fen=amount) if amount is not None else None,
        ),
    )


def _payload(outcome: dict[str, Any], decision: Decision | None) -> ApplyForServicePayload:
    return ApplyForServicePayload(
        application=application_of(decision) if decision else None,
        next_step=outcome.get("nextStep"),
        first_payment_month=outcome.get("firstMonth"),
        user_errors=[UserError(**e) for e in outcome.get("userErrors", [])],
    )


@strawberry.type
class ApprovalsMutation:
    @strawberry.mutation(
        description="秒批申请 · "
        "Apply for an instant-approval item. The hub fetches the evidence the item's rules "
        "need, decides APPROVED / REJECTED (every reason) / NEEDS_REVIEW (a department did "
        "not answer in time), records the decision and, when approved, instructs the paying "
        "department once (NEEDS_REVIEW PAYMENT_PENDING when it cannot confirm: the re-check "
        "completes the payment). Refusals: ALREADY_ENTITLED, APPLICATION_PENDING (approved, "
        "payment pending), NOT_FOUND, FORBIDDEN, BAD_USER_INPUT."
    )
    async def apply_for_service(
        self, info: HubInfo, input: ApplyForServiceInput
    ) -> ApplyForServicePayload:
        resident = await current_resident(info)
        if not 1 <= len(input.item_code.strip()) <= 64:
            raise BadUserInput("`itemCode` must be 1 to 64 characters.", field="itemCode")
        if input.for_member is not None and not ID_NUMBER.fullmatch(input.for_member):
            raise BadUserInput("`forMember` must be an 18-character ID number.", field="forMember")
        answers = answers_of(input.answers)
        service = info.context.approvals

        async def perform(_key: str) -> dict[str, Any]:
            result: ApplicationResult = await service.apply(
                resident, input.item_code.strip(), answers, input.for_member
            )
            outcome: dict[str, Any] = {
                "decisionId": result.decision.decision_id if result.decision else None,
                "nextStep": result.next_step,
                "firstMonth": result.first_month.strftime("%Y-%m") if result.first_month else None,
            }
            if result.refusal:
                code, message, field = result.refusal
                outcome["userErrors"] = [{"code": code, "message": message, "field": field}]
            return outcome

        arguments = {"item": input.item_code, "answers": answers, "for": input.for_member}
        outcome = await idempotent(
            info, resident, operation="applyForService", key=input.idempotency_key,
            arguments=arguments, perform=perform,
        )  # fmt: skip
        decision = None
        if outcome.get("decisionId"):
            decision = await service.decision(outcome["decisionId"])
        return _payload(outcome, decision)


async def my_applications(info: HubInfo, resident_id: str) -> list[ServiceApplication]:
    return [application_of(d) for d in await info.context.approvals.decisions_of(resident_id)]
