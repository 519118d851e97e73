"""The district's WeChat service account: template messages to the residents who follow it.

- ``access_token`` from ``GET /cgi-bin/token`` (client credential ``appid`` / ``secret``, two
  hours), kept and renewed before it expires (``connectors.tokens.TokenKeeper``). A token is
  also ended five minutes after anyone fetches a newer one for the same app: a send refused
  with ``40001`` (or ``42001`` expired, ``40014`` malformed) renews it once — one fetch however
  many sends noticed — and is sent once more.
- ``send_template`` is not idempotent at WeChat, so it is never repeated on a transport
  failure; the caller's record decides.
- Every answer is HTTP 200 with ``errcode``: ``43004`` ``NotFollowing``, ``40003``
  ``UnknownOpenid``, ``45009`` ``QuotaReached`` (until midnight in Shanghai), ``40037``
  ``UnknownTemplate``, ``-1`` (system busy) ``UpstreamUnavailable``, anything else
  ``UpstreamRejected`` with the code.

Credentials: ``appid``, ``secret``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from typing import TypeVar

import aiohttp
import orjson

from connectors.base import Clock, Connector, DepartmentPolicy, UpstreamResponse
from connectors.errors import (
    ConnectorError,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.observer import Observer
from connectors.shared import Shared
from connectors.tokens import Grant, Token, TokenKeeper
from connectors.wechat import mapping
from connectors.wechat.errors import (
    InvalidCode,
    NotFollowing,
    QuotaReached,
    UnknownOpenid,
    UnknownTemplate,
)

T = TypeVar("T")

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
GRANT = "/cgi-bin/token"
SEND = "/cgi-bin/message/template/send"
OAUTH = "/sns/oauth2/access_token"
CODE_REFUSED = frozenset({40029, 40163})
TOKEN_REFUSED = frozenset({40001, 40014, 42001})
NOT_FOLLOWING = 43004
UNKNOWN_OPENID = 40003
QUOTA = 45009
BAD_TEMPLATE = 40037
BUSY = -1


def seconds_to_midnight(now: datetime) -> float:
    """Seconds from ``now`` to the next midnight in Shanghai (when the quota starts afresh)."""
    local = now.astimezone(SHANGHAI)
    midnight = (local + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max((midnight - local).total_seconds(), 1.0)


class WeChatConnector(Connector):
    """Template messages through the service account, with its token kept and renewed."""

    department = "wechat"

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
        self.now: Callable[[], datetime] = lambda: datetime.now(SHANGHAI)
        """The day the quota counts in, for ``QuotaReached.retry_after_s``."""

    async def send_template(
        self,
        *,
        openid: str,
        template: str,
        data: Mapping[str, str],
        url: str | None = None,
    ) -> str:
        """Send template ``template`` filled with ``data`` to ``openid``; WeChat's msgid."""
        message: dict[str, object] = {
            "touser": openid,
            "template_id": template,
            "data": mapping.template_data(dict(data)),
        }
        if url is not None:
            message["url"] = url
        body = orjson.dumps(message)
        token = await self.tokens.current()
        answer = await self._send(token, body)
        if answer.errcode in TOKEN_REFUSED:
            token = await self.tokens.renew(stale=token)
            answer = await self._send(token, body)
        if answer.msgid is not None:
            return answer.msgid
        raise self._refusal(answer, template)

    async def _send(self, token: Token, body: bytes) -> mapping.Answer:
        response = await self._request(
            "POST",
            SEND,
            params={"access_token": token.value},
            headers={"Content-Type": "application/json; charset=utf-8"},
            data=body,
            retry=False,
            endpoint=f"POST {SEND}",
        )
        return self._read(response, f"POST {SEND}", mapping.answer)

    async def openid_for_code(self, code: str) -> str:
        """The openid of the user who authorised the service account's web page, from the
        ``code`` WeChat's redirect carried (``snsapi_base``: no consent screen, the openid
        only). ``InvalidCode`` when it is unknown, expired or used."""
        appid, secret = self.policy.credentials.get("appid"), self.policy.credentials.get("secret")
        if not appid or not secret:
            raise self._failed(UpstreamRejected(self.department, "appid/secret not set"))
        params = {"appid": appid, "secret": secret, "code": code,
                  "grant_type": "authorization_code"}  # fmt: skip
        # not retried: a code is good once, and a lost answer used it
        response = await self._request(
            "GET", OAUTH, params=params, retry=False, endpoint=f"GET {OAUTH}"
        )
        found = self._read(response, f"GET {OAUTH}", mapping.openid)
        if isinstance(found, str):
            return found
        detail = f"GET {OAUTH}: errcode {found.errcode}"
        if found.errcode in CODE_REFUSED:
            raise InvalidCode(self.department, detail)
        raise UpstreamRejected(self.department, detail, code=str(found.errcode))

    def _refusal(self, answer: mapping.Answer, template: str) -> ConnectorError:
        detail = f"POST {SEND}: errcode {answer.errcode}"
        if answer.errcode == NOT_FOLLOWING:
            return NotFollowing(self.department, detail)
        if answer.errcode == UNKNOWN_OPENID:
            return UnknownOpenid(self.department, detail)
        if answer.errcode == QUOTA:
            wait = seconds_to_midnight(self.now())
            return QuotaReached(self.department, detail, retry_after_s=wait)
        if answer.errcode == BAD_TEMPLATE:
            return UnknownTemplate(self.department, detail, template=template)
        if answer.errcode == BUSY:
            return self._failed(UpstreamUnavailable(self.department, f"{detail} (system busy)"))
        return UpstreamRejected(self.department, detail, code=str(answer.errcode))

    async def _grant_token(self) -> Grant:
        appid, secret = self.policy.credentials.get("appid"), self.policy.credentials.get("secret")
        if not appid or not secret:
            raise self._failed(UpstreamRejected(self.department, "appid/secret not set"))
        params = {"grant_type": "client_credential", "appid": appid, "secret": secret}
        response = await self._request("GET", GRANT, params=params, endpoint=f"GET {GRANT}")
        granted = self._read(response, f"GET {GRANT}", mapping.grant)
        if isinstance(granted, mapping.Answer):
            failure = UpstreamRejected(
                self.department, f"token: errcode {granted.errcode}", code=str(granted.errcode)
            )
            raise self._failed(failure)
        return granted

    def _read(self, response: UpstreamResponse, what: str, to_record: Callable[[object], T]) -> T:
        if response.status != 200:
            raise UpstreamRejected(self.department, f"{what}: HTTP {response.status}")
        try:
            return to_record(response.json(self.department))
        except UpstreamPayloadError as exc:
            raise self.payload_error(f"{what}: {exc.detail}") from exc
