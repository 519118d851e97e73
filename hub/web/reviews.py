"""The operators' HTTP surface of the 秒批 review queue, beside ``/status`` on the operator plane.

- ``GET /operators/reviews?state=OPEN|CLOSED&limit=`` → ``{"cases": [...]}``: each queued
  NEEDS_REVIEW case with its item, the subject masked, the reasons it was queued and, once
  closed, who closed it (an operator, or ``auto-recheck``) and the closing decision.
- ``POST /operators/reviews/{decisionId}`` ``{"outcome": "REJECTED", "reason": "…"}`` → ``200
  {"case", "decision"}``. The case is closed and the rejection appended to the decision chain
  in one transaction, conditional on the case being open: of two operators deciding at once
  exactly one succeeds, the other gets ``409 ALREADY_DECIDED`` saying who decided. Approvals
  are not typed in by hand: the automatic re-check decides from fresh evidence. A case that is
  an approval waiting for its payment (``PAYMENT_PENDING``) cannot be rejected (``409
  PAYMENT_PENDING``): the ledger may have written; the re-check completes it.

Operators authenticate with a key of their own (``Authorization: Bearer <key>``), checked
against the SHA-256 digests in ``HUB_OPERATOR_KEYS`` (``name:sha256hex,…``); who decided is
the key's name, never a value the request supplies. Without a matching key: ``401
UNAUTHENTICATED``. Errors are ``{"code", "message"}`` in the hub's vocabulary.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.approvals.service import ApprovalService
from hub.store.models import ReviewCase
from schema.context import Decision
from schema.masking import mask_id_number

MAX_REASON = 200
MAX_LIMIT = 200


def key_digest(key: str) -> str:
    """What ``HUB_OPERATOR_KEYS`` holds for ``key``: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def operator_of(request: Request, keys: Mapping[str, str]) -> str | None:
    """The operator whose key the request carries (constant-time comparison), or None."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    digest = key_digest(key.strip())
    found = None
    for name, expected in keys.items():
        if hmac.compare_digest(digest, expected.lower()):
            found = name
    return found


def _error(status: int, code: str, message: str, **more: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **more}, status_code=status)


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.decision_id,
        "outcome": decision.outcome,
        "reasons": [{"code": r.code, "message": r.message} for r in decision.reasons],
        "decidedAt": decision.at.isoformat() if decision.at else None,
    }


def _case_json(case: ReviewCase, queued: Decision | None) -> dict[str, Any]:
    return {
        "decisionId": case.decision_id,
        "item": case.item,
        "residentId": case.resident_id,
        "subject": mask_id_number(case.subject),
        "state": case.state,
        "openedAt": case.opened_at.isoformat(),
        "reasons": [{"code": r.code, "message": r.message} for r in queued.reasons]
        if queued
        else [],
        "closedAt": case.closed_at.isoformat() if case.closed_at else None,
        "closedBy": case.closed_by,
        "closingDecisionId": case.closing_decision_id,
    }


def review_routes(service: ApprovalService, operator_keys: Mapping[str, str]) -> list[Route]:
    """``/operators/reviews`` over ``service``'s review queue, for holders of operator keys."""

    async def cases(request: Request) -> JSONResponse:
        if operator_of(request, operator_keys) is None or service.reviews is None:
            return _error(401, "UNAUTHENTICATED", "an operator key is required")
        state = request.query_params.get("state", "OPEN").upper()
        limit = request.query_params.get("limit", "50")
        if state not in ("OPEN", "CLOSED") or not limit.isdigit() or not 1 <= int(limit) <= 200:
            return _error(400, "BAD_USER_INPUT", "state OPEN or CLOSED, limit 1 to 200")
        found = await service.reviews.cases(state, int(limit))
        shown = [_case_json(c, await service.decision(c.decision_id)) for c in found]
        return JSONResponse({"cases": shown})

    async def decide(request: Request) -> JSONResponse:
        operator = operator_of(request, operator_keys)
        if operator is None or service.reviews is None:
            return _error(401, "UNAUTHENTICATED", "an operator key is required")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        reason = body.get("reason") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("outcome") != "REJECTED":
            return _error(400, "BAD_USER_INPUT", 'outcome must be "REJECTED"', field="outcome")
        if not isinstance(reason, str) or not 1 <= len(reason.strip()) <= MAX_REASON:
            message = f"a reason of 1 to {MAX_REASON} characters, fit to show the resident"
            return _error(400, "BAD_USER_INPUT", message, field="reason")
        decision_id = request.path_params["decision_id"]
        decided = await service.reject_case(decision_id, operator, reason.strip())
        case = await service.reviews.case(decision_id)
        if decided == "NOT_FOUND" or case is None:
            return _error(404, "NOT_FOUND", "no queued case with this decision id")
        if decided == "PAYMENT_PENDING":
            message = "approved, its payment pending: the re-check completes it, not a rejection"
            return _error(409, "PAYMENT_PENDING", message)
        if isinstance(decided, str):
            return _error(
                409, "ALREADY_DECIDED", "the case was decided already",
                closedBy=case.closed_by, closedAt=case.closed_at.isoformat() if case.closed_at
                else None,
            )  # fmt: skip
        queued = await service.decision(decision_id)
        return JSONResponse({"case": _case_json(case, queued), "decision": _decision_json(decided)})

    return [
        Route("/operators/reviews", cases, methods=["GET"]),
        Route("/operators/reviews/{decision_id}", decide, methods=["POST"]),
    ]
