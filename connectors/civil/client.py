"""The civil-affairs (民政) allowance ledger and care assessments, v2.

- A bearer token from ``POST /auth/token`` (client credentials ``client_id`` /
  ``client_secret``, 2 hours), shared and renewed before expiry (``token.TokenKeeper``); a
  ``401`` renews it once and the call is sent once more.
- ``grant`` instructs a payment. Its ``request_id`` makes it idempotent (the ledger answers
  the first answer again), so transport failures and 5xx are retried within the budget; an
  active entitlement for the same code is ``Refused("ALREADY_ENTITLED")``, an unknown or
  deceased person ``Refused("UNKNOWN_PERSON" | "PERSON_DECEASED")``.
- Amounts are fen as strings on the v2 ledger; months ``yyyy-MM`` (``mapping``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TypeVar

import aiohttp

from connectors.base import Clock, Connector, DepartmentPolicy, UpstreamResponse
from connectors.civil import mapping
from connectors.civil.models import AllowanceGrant, CareAssessment, Entitlement, Granted
from connectors.civil.token import Grant, Token, TokenKeeper, grant
from connectors.errors import Refused, UpstreamPayloadError, UpstreamRejected
from connectors.observer import Observer
from connectors.payload import error_code
from connectors.shared import Shared

T = TypeVar("T")

GRANT_PATH = "/auth/token"
ALLOWANCES = "/civil/v2/allowances"
CARE = "/civil/v2/care-assessments"
REFUSALS = {
    "ALREADY_ENTITLED": "已在享受该项补贴，无需重复申请",
    "UNKNOWN_PERSON": "民政系统中没有此人的户籍信息",
    "PERSON_DECEASED": "登记为已故人员",
}


class CivilConnector(Connector):
    """Typed calls to the civil ledger: entitlements, grants, care assessments."""

    department = "civil"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
        observer: Observer | None = None,
        shared: Shared | None = None,
    ) -> None:
        super().__init__(session, policy, clock=clock, observer=observer, shared=shared)
        self.tokens = TokenKeeper(self._grant_token, clock=clock)

    async def entitlements(self, id_number: str) -> tuple[Entitlement, ...]:
        """The person's current entitlements (none for a person the ledger does not know)."""
        response = await self._call("GET", ALLOWANCES, params={"id_number": id_number})
        return self._map(mapping.entitlements, self._ok(response, f"GET {ALLOWANCES}"))

    async def grant(self, instruction: AllowanceGrant) -> Granted:
        """Record an entitlement; the same ``request_id`` always gets the first answer."""
        if not instruction.request_id:
            raise ValueError("a grant needs a request_id")
        body = {
            "allowance_code": instruction.allowance_code,
            "id_number": instruction.id_number,
            "start_month": mapping.format_month(instruction.start_month),
            "amount_fen": str(instruction.amount_fen),
            "decision_ref": instruction.decision_ref,
            "request_id": instruction.request_id,
        }
        response = await self._call("POST", ALLOWANCES, json=body)
        if response.status in (409, 422):
            code = error_code(response.body)
            if code in REFUSALS:
                raise Refused(self.department, code, REFUSALS[code])
        return self._map(mapping.granted, self._ok(response, f"POST {ALLOWANCES}", created=True))

    async def care_assessment(self, id_number: str) -> CareAssessment | None:
        """The latest care assessment, or ``None`` when the person was never assessed."""
        response = await self._call("GET", CARE, params={"id_number": id_number})
        return self._map(mapping.care_assessment, self._ok(response, f"GET {CARE}"))

    # -- plumbing --------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: object = None,
    ) -> UpstreamResponse:
        token = await self.tokens.current()
        response = await self._send(method, path, token, params, json)
        if response.status == 401:
            token = await self.tokens.renew(stale=token)
            response = await self._send(method, path, token, params, json)
        return response

    async def _send(
        self,
        method: str,
        path: str,
        token: Token,
        params: Mapping[str, str] | None,
        json: object,
    ) -> UpstreamResponse:
        headers = {"Authorization": f"Bearer {token.value}", "Accept": "application/json"}
        # a write carries its request_id: repeating it is safe
        retry = True if method == "POST" else None
        return await self._request(
            method, path, params=params, headers=headers, json=json, retry=retry
        )

    def _ok(self, response: UpstreamResponse, what: str, *, created: bool = False) -> object:
        if response.status == 200 or (created and response.status == 201):
            return response.json(self.department)
        code = error_code(response.body)
        detail = f"{what}: HTTP {response.status} {code or ''}".strip()
        raise UpstreamRejected(self.department, detail, code=code)

    async def _grant_token(self) -> Grant:
        client_id = self.policy.credentials.get("client_id")
        secret = self.policy.credentials.get("client_secret")
        if not client_id or not secret:
            raise self._failed(UpstreamRejected(self.department, "client id/secret not set"))
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        response = await self._request("POST", GRANT_PATH, data=form, retry=True, read=True)
        if response.status != 200:
            code = error_code(response.body)
            failure = UpstreamRejected(self.department, f"token: HTTP {response.status}", code=code)
            raise self._failed(failure)
        return self._map(grant, response.json(self.department))

    def _map(self, to_record: Callable[[object], T], payload: object) -> T:
        try:
            return to_record(payload)
        except UpstreamPayloadError as exc:
            raise self.payload_error(exc.detail) from exc
