"""The operator's SMS gateway: templated messages out, delivery reports and replies back.

- ``send`` posts ``{app_id, sign_name, template_code, phone, params, out_id}`` to
  ``/sms/send``, signed afresh for every attempt (``attempt_headers``, ``signing``). It is
  not idempotent at the gateway (``out_id`` is only echoed back), so it is never repeated
  here: a transport failure or timeout leaves the outcome unknown (``UpstreamUnavailable`` /
  ``UpstreamTimeout``), and the caller's own record decides what to do.
- Every answer is HTTP 200 with the outcome in ``code``: ``isv.BUSINESS_LIMIT_CONTROL`` is
  ``SmsLimited`` (its message says which limit: ``分钟级`` a minute, ``天级`` until midnight in
  Shanghai), ``isv.MOBILE_NUMBER_ILLEGAL`` ``InvalidPhone``, ``isv.SMS_TEMPLATE_ILLEGAL``
  ``UnknownTemplate``; any other code (signature, sign name, parameters) ``UpstreamRejected``.
- ``read_callback`` checks a webhook request's signature (the gateway's callback key,
  constant-time, within five minutes) and reads it into an ``SmsReport`` or ``SmsUplink``;
  anything else is ``ForgedCallback``. It keeps no state: a replay within the five minutes is
  the same report or reply again, which at-least-once delivery already makes the receiver
  expect (``biz_id``, ``uplink_id``).

Credentials: ``app_id``, ``app_secret``, ``sign_name``, ``callback_secret``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

import aiohttp
import orjson

from connectors.base import Clock, Connector, DepartmentPolicy
from connectors.errors import UpstreamPayloadError, UpstreamRejected
from connectors.observer import Observer
from connectors.shared import Shared
from connectors.sms import mapping
from connectors.sms.errors import ForgedCallback, InvalidPhone, Scope, SmsLimited, UnknownTemplate
from connectors.sms.models import SmsReceipt, SmsReport, SmsUplink
from connectors.sms.signing import callback_problem, request_headers

SEND = "/sms/send"
LIMITED = "isv.BUSINESS_LIMIT_CONTROL"
BAD_PHONE = "isv.MOBILE_NUMBER_ILLEGAL"
BAD_TEMPLATE = "isv.SMS_TEMPLATE_ILLEGAL"
WAIT_S: dict[Scope, float] = {"minute": 60.0, "hour": 3600.0}


def limit_scope(message: str) -> Scope:
    """Which limit a ``BUSINESS_LIMIT_CONTROL`` message names (the minute's when unclear)."""
    if "天级" in message:
        return "day"
    if "小时级" in message:
        return "hour"
    return "minute"


def seconds_to_midnight(now: datetime) -> float:
    """Seconds from ``now`` to the next midnight in Shanghai."""
    local = now.astimezone(mapping.SHANGHAI)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - local).total_seconds(), 1.0)


class SmsConnector(Connector):
    """Sends templated messages and reads the gateway's callbacks."""

    department = "sms"

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
        credentials = policy.credentials
        self._app_id = credentials.get("app_id", "")
        self._secret = credentials.get("app_secret", "")
        self._sign_name = credentials.get("sign_name", "")
        self._callback_secret = credentials.get("callback_secret", "")
        self.wall_clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)
        """Signatures' clock, both ways (the gateway checks ours against the real time)."""
        self.now: Callable[[], datetime] = lambda: datetime.now(mapping.SHANGHAI)
        """The day the daily limit counts in, for ``SmsLimited.retry_after_s``."""

    async def send(
        self, *, phone: str, template: str, params: Mapping[str, str], out_id: str
    ) -> SmsReceipt:
        """Send ``template`` with ``params`` to ``phone``; ``out_id`` comes back in its report."""
        body = orjson.dumps(
            {
                "app_id": self._app_id,
                "sign_name": self._sign_name,
                "template_code": template,
                "phone": phone,
                "params": dict(params),
                "out_id": out_id,
            }
        )
        headers = {"Content-Type": "application/json; charset=utf-8"}
        response = await self._request("POST", SEND, headers=headers, data=body, retry=False)
        if response.status != 200:
            raise UpstreamRejected(self.department, f"POST {SEND}: HTTP {response.status}")
        try:
            answer = mapping.answer(response.json(self.department))
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"POST {SEND}: {exc.detail}") from exc
        if answer.biz_id is not None:
            return SmsReceipt(answer.biz_id)
        raise self._refusal(answer, template)

    def read_callback(self, headers: Mapping[str, str], body: bytes) -> SmsReport | SmsUplink:
        """The report or reply in a webhook request, once its signature proves it the gateway's."""
        if not self._callback_secret:
            raise ForgedCallback(self.department, "no callback key configured: nothing verifies")
        problem = callback_problem(
            self._callback_secret, headers, body, now_ms=self.wall_clock_ms()
        )
        if problem is not None:
            raise ForgedCallback(self.department, f"callback refused: {problem}")
        try:
            return mapping.callback(orjson.loads(body))
        except orjson.JSONDecodeError as exc:
            raise self.payload_error("callback: not JSON") from exc
        except UpstreamPayloadError as exc:
            raise self.payload_error(exc.detail) from exc

    def _refusal(self, answer: mapping.Answer, template: str) -> Exception:
        detail = f"POST {SEND}: {answer.code}"
        if answer.code == LIMITED:
            scope = limit_scope(answer.message)
            wait = seconds_to_midnight(self.now()) if scope == "day" else WAIT_S[scope]
            return SmsLimited(
                self.department, f"{detail} ({scope})", scope=scope, retry_after_s=wait
            )
        if answer.code == BAD_PHONE:
            return InvalidPhone(self.department, detail)
        if answer.code == BAD_TEMPLATE:
            return UnknownTemplate(self.department, detail, template=template, code=answer.code)
        return UpstreamRejected(self.department, detail, code=answer.code)

    def attempt_headers(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
    ) -> Mapping[str, str] | None:
        body = data if isinstance(data, bytes) else b""
        signed = request_headers(
            self._secret, method, path, body, timestamp_ms=self.wall_clock_ms()
        )
        return {**(headers or {}), **signed}
