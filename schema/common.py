"""Types and helpers every department module shares: money, user errors, the resident."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any, TypeVar, cast

import strawberry

from connectors.errors import Refused
from schema.context import CallerKind, HubInfo, ResidentProfile
from schema.errors import BadUserInput, Forbidden, MutationInProgress, Unauthenticated

IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9._:-]{8,128}")
IDEMPOTENCY_KEY_HELP = (
    "Idempotency key: 8–128 characters [A-Za-z0-9._:-], unique per intended change. "
    "Repeating a request with the same key returns the first result without doing it again."
)


@strawberry.type(description="An amount of money in yuan (CNY), exact to the fen.")
class Money:
    fen: int = strawberry.field(description="The amount in fen (1/100 yuan).")

    @strawberry.field(description='The amount in yuan with two decimals, e.g. "12.50".')
    def yuan(self) -> str:
        return f"{self.fen // 100}.{self.fen % 100:02d}"


@strawberry.type(
    description="Why a mutation did not do what was asked (a domain refusal, not a failure)."
)
class UserError:
    code: str = strawberry.field(description="Machine-readable reason, e.g. LOAN_LIMIT_REACHED.")
    message: str = strawberry.field(description="A sentence fit to show the resident.")
    field: str | None = strawberry.field(description="The input field at fault, if any.")


def user_errors(outcome: Mapping[str, Any]) -> list[UserError]:
    return [UserError(**error) for error in outcome.get("userErrors", [])]


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


async def current_resident(info: HubInfo) -> ResidentProfile:
    """The signed-in resident's profile; ``FORBIDDEN`` for a partner, else ``UNAUTHENTICATED``."""
    principal = info.context.principal
    if principal.kind is CallerKind.PARTNER:
        # a partner did send a valid token: the answer is that this is not theirs to call
        raise Forbidden(
            f"`{info.field_name}` is for residents signed in with their own token; "
            "a partner's token cannot use it."
        )
    if principal.kind is not CallerKind.RESIDENT or principal.resident_id is None:
        problem = principal.auth_problem or "no bearer token was sent"
        raise Unauthenticated(f"A valid resident token is required: {problem}.")
    profile = await info.context.directory.profile(principal.resident_id)
    if profile is None:
        raise Unauthenticated("The token's resident is not known to the hub.")
    return profile


Perform = Callable[[str], Awaitable[dict[str, Any]]]


async def idempotent(
    info: HubInfo,
    resident: ResidentProfile,
    *,
    operation: str,
    key: str,
    arguments: Mapping[str, object],
    perform: Perform,
) -> dict[str, Any]:
    """Run ``perform(upstream_key)`` once per (resident, key); repeats get the first outcome.

    A department's refusal is an outcome too (``userErrors``), stored like a success; a
    department's failure is not stored, so the client may retry with the same key.
    """
    return await idempotent_in(
        info, resident.id, operation=operation, key=key, arguments=arguments, perform=perform
    )


async def idempotent_in(
    info: HubInfo,
    scope: str,
    *,
    operation: str,
    key: str,
    arguments: Mapping[str, object],
    perform: Perform,
) -> dict[str, Any]:
    """``idempotent`` for any caller: once per (``scope``, key), ``scope`` naming the caller
    (a resident id, ``partner:<id>``)."""
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise BadUserInput(IDEMPOTENCY_KEY_HELP, field="idempotencyKey")
    request = json.dumps([operation, arguments, scope], sort_keys=True, default=str)
    fingerprint = hashlib.sha256(request.encode()).hexdigest()

    async def run(upstream_key: str) -> str:
        try:
            outcome = await perform(upstream_key)
        except Refused as refused:
            outcome = {
                "userErrors": [{"code": refused.code, "message": refused.message, "field": None}]
            }
        return json.dumps(outcome, ensure_ascii=False, default=str)

    try:
        text = await info.context.idempotency.run(
            scope=scope, key=key, fingerprint=fingerprint, perform=run
        )
    except MutationInProgress as busy:
        return {
            "userErrors": [{"code": busy.code, "message": busy.message, "field": "idempotencyKey"}]
        }
    outcome: dict[str, Any] = json.loads(text)
    return outcome


Found = TypeVar("Found")
Answer = TypeVar("Answer")


def in_place(
    fresh: Found | None, convert: Callable[[Found], Answer], load: Callable[[], Awaitable[Answer]]
) -> Answer:
    """``convert(fresh)`` at once when a cache across requests had the value fresh; else the
    awaitable of ``load()`` (graphql-core awaits what a resolver returns). A list of 50 items
    whose details are cached then schedules no task and no loader round at all."""
    if fresh is not None:
        return convert(fresh)
    return cast(Answer, load())
