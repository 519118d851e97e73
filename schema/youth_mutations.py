"""Apply for a course, pay, cancel: for the resident's own household members only."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry

from connectors.youth import YouthLoaders
from connectors.youth import models as m
from schema.common import IDEMPOTENCY_KEY_HELP, UserError, current_resident, idempotent, user_errors
from schema.context import HubInfo, ResidentProfile
from schema.errors import BadUserInput, Forbidden
from schema.records import from_json, to_json
from schema.youth import CourseApplication, application_of

NOT_FOUND = {
    "userErrors": [
        {"code": "NOT_FOUND", "message": "没有找到这条报名记录。", "field": "applicationId"}
    ]
}


@strawberry.enum(description="How the fee was paid.")
class PaymentChannel(Enum):
    WECHAT = "wechat"
    ALIPAY = "alipay"
    UNIONPAY = "unionpay"


@strawberry.input(description="Apply for a course for a household member.")
class ApplyForCourseInput:
    member_id: strawberry.ID = strawberry.field(description="The child's member number.")
    course_id: strawberry.ID
    preference_rank: int = strawberry.field(default=1, description="1 (first choice) to 3.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="Report the payment of an offered or won place.")
class PayApplicationInput:
    member_id: strawberry.ID
    application_id: strawberry.ID
    amount_fen: int = strawberry.field(description="The amount paid, in fen.")
    channel: PaymentChannel
    payment_reference: str = strawberry.field(description="The payment provider's reference.")
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.input(description="Cancel an application (paid places are refunded).")
class CancelApplicationInput:
    member_id: strawberry.ID
    application_id: strawberry.ID
    idempotency_key: str = strawberry.field(description=IDEMPOTENCY_KEY_HELP)


@strawberry.type(description="The application after the change, or why there was none.")
class ApplicationPayload:
    application: CourseApplication | None
    user_errors: list[UserError]


def _member(resident: ResidentProfile, member_id: strawberry.ID) -> str:
    """The member number, if the resident may act for that member: checked before any call."""
    member_no = str(member_id)
    if member_no not in resident.accounts.youth_members:
        raise Forbidden("You can only act for members of your own household.", field="memberId")
    return member_no


async def _payload(info: HubInfo, outcome: dict[str, Any]) -> ApplicationPayload:
    if not outcome.get("application"):
        return ApplicationPayload(application=None, user_errors=user_errors(outcome))
    application = from_json(m.Application, outcome["application"])
    course = await info.context.loaders.get(YouthLoaders).course_by_id.load(application.course_id)
    return ApplicationPayload(
        application=application_of(application, course), user_errors=user_errors(outcome)
    )


async def _owned(youth: YouthLoaders, member_no: str, application_id: str) -> bool:
    """Whether the application is the member's (so a stranger's id gets NOT_FOUND)."""
    return any(a.id == application_id for a in await youth.connector.applications(member_no))


@strawberry.type
class YouthMutation:
    @strawberry.mutation(
        description="报名课程 · "
        "Apply for a course. First-come courses offer a place at once (pay within "
        "30 minutes) or waitlist; lottery courses collect applications until the draw. "
        "Refusals: COURSE_FULL, ALREADY_APPLIED, AGE_NOT_ELIGIBLE, NOT_OPEN, NOT_FOUND."
    )
    async def apply_for_course(
        self, info: HubInfo, input: ApplyForCourseInput
    ) -> ApplicationPayload:
        resident = await current_resident(info)
        member_no, course_id = _member(resident, input.member_id), str(input.course_id)
        if not 1 <= input.preference_rank <= 3:
            raise BadUserInput("`preferenceRank` must be 1, 2 or 3.", field="preferenceRank")
        youth = info.context.loaders.get(YouthLoaders)

        async def perform(key: str) -> dict[str, Any]:
            applied = await youth.connector.apply(
                course_id, member_no, input.preference_rank, idempotency_key=key
            )
            return {"application": to_json(applied)}

        arguments = {"member": member_no, "course": course_id, "rank": input.preference_rank}
        return await _payload(
            info,
            await idempotent(
                info, resident, operation="applyForCourse", key=input.idempotency_key,
                arguments=arguments, perform=perform,
            ),
        )  # fmt: skip

    @strawberry.mutation(
        description="缴费确认 · "
        "Report a payment for an OFFERED or WON place; the place becomes ENROLLED. "
        "Never retried by the hub. Refusals: AMOUNT_MISMATCH, PAYMENT_EXPIRED, INVALID_STATE, "
        "NOT_FOUND."
    )
    async def pay_application(
        self, info: HubInfo, input: PayApplicationInput
    ) -> ApplicationPayload:
        resident = await current_resident(info)
        member_no, application_id = _member(resident, input.member_id), str(input.application_id)
        if input.amount_fen <= 0:
            raise BadUserInput("`amountFen` must be positive.", field="amountFen")
        reference = input.payment_reference.strip()
        if not 1 <= len(reference) <= 64:
            raise BadUserInput(
                "`paymentReference` must be 1 to 64 characters.", field="paymentReference"
            )
        youth = info.context.loaders.get(YouthLoaders)

        async def perform(key: str) -> dict[str, Any]:
            if not await _owned(youth, member_no, application_id):
                return NOT_FOUND
            paid = await youth.connector.pay(
                application_id, input.amount_fen, m.PaymentChannel(input.channel.value),
                reference, idempotency_key=key,
            )  # fmt: skip
            return {"application": to_json(paid)}

        arguments = {
            "member": member_no, "application": application_id, "amount": input.amount_fen,
            "channel": input.channel.value, "reference": reference,
        }  # fmt: skip
        return await _payload(
            info,
            await idempotent(
                info, resident, operation="payApplication", key=input.idempotency_key,
                arguments=arguments, perform=perform,
            ),
        )  # fmt: skip

    @strawberry.mutation(
        description="取消报名 · "
        "Cancel an application; a paid place is refunded. Refusals: INVALID_STATE, "
        "NOT_FOUND."
    )
    async def cancel_application(
        self, info: HubInfo, input: CancelApplicationInput
    ) -> ApplicationPayload:
        resident = await current_resident(info)
        member_no, application_id = _member(resident, input.member_id), str(input.application_id)
        youth = info.context.loaders.get(YouthLoaders)

        async def perform(key: str) -> dict[str, Any]:
            if not await _owned(youth, member_no, application_id):
                return NOT_FOUND
            cancelled = await youth.connector.cancel(application_id, idempotency_key=key)
            return {"application": to_json(cancelled)}

        return await _payload(
            info,
            await idempotent(
                info, resident, operation="cancelApplication", key=input.idempotency_key,
                arguments={"member": member_no, "application": application_id}, perform=perform,
            ),
        )  # fmt: skip
