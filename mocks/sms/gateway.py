"""The gateway's business rules: registered signs and templates, phone numbers, per-phone
limits on the gateway's clock, and the outbox of what it accepted.

- Templates are registered with their parameters; every parameter must be given, as text.
- Per phone at most one message in any 60 seconds and ten a Shanghai day (accepted messages
  only). Refusals say which, as the operator does: ``isv.BUSINESS_LIMIT_CONTROL`` with the
  message ``触发分钟级流控Permits:1`` or ``触发天级流控Permits:10``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mocks.common.clock import MockClock

APPS = {"ihub-luohu": "dev-sms-secret"}
SIGN_NAMES = frozenset({"i罗湖"})
CALLBACK_SIGNING_KEY = "dev-sms-callback-secret"
"""The key the gateway signs its callbacks with (the hub's ``callback_secret``)."""
MINUTE_S = 60.0
PER_DAY = 10
PHONE = re.compile(r"1[3-9]\d{9}")
OUT_ID = re.compile(r"[0-9A-Za-z._:-]{1,64}")


@dataclass(frozen=True)
class Template:
    code: str
    text: str
    params: tuple[str, ...]

    def render(self, params: dict[str, str]) -> str:
        text = self.text
        for name in self.params:
            text = text.replace("${" + name + "}", params[name])
        return text


TEMPLATES = {
    t.code: t
    for t in (
        Template(
            "SMS_ELDERLY_OFFER",
            "${name}您好，您将于${birthday}年满70周岁，可申领高龄老人补贴（每月${amount}元）。"
            "回复“同意”即视为申请，回复TD退订。",
            ("name", "birthday", "amount"),
        ),
        Template(
            "SMS_DECISION",
            "${name}您好，您申请的${item}${result}。${detail}",
            ("name", "item", "result", "detail"),
        ),
        Template(
            "SMS_OFFER_GENERIC",
            "${name}您好，根据您的情况，您可申请${item}，详情请登录i罗湖App查看。回复TD退订。",
            ("name", "item"),
        ),
    )
}


class SmsError(Exception):
    """A refusal in the operator's words: ``{"code", "message"}``, still HTTP 200."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Gateway:
    clock: MockClock
    outbox: list[dict[str, Any]] = field(default_factory=list)
    last_sent: dict[str, float] = field(default_factory=dict)
    sent_today: dict[str, tuple[date, int]] = field(default_factory=dict)
    undeliverable: set[str] = field(default_factory=set)
    serial: int = 0

    def clear(self) -> None:
        self.outbox.clear()
        self.last_sent.clear()
        self.sent_today.clear()
        self.undeliverable.clear()

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        """Accept one message (the app is already verified): its outbox record, or ``SmsError``."""
        if body.get("sign_name") not in SIGN_NAMES:
            raise SmsError("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = TEMPLATES.get(str(body.get("template_code")))
        if template is None:
            raise SmsError("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        params = body.get("params")
        if not isinstance(params, dict) or not all(
            isinstance(params.get(name), str) for name in template.params
        ):
            raise SmsError("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量缺少对应参数值")
        phone = body.get("phone")
        if not isinstance(phone, str) or not PHONE.fullmatch(phone):
            raise SmsError("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        out_id = body.get("out_id", "")
        if not isinstance(out_id, str) or (out_id and not OUT_ID.fullmatch(out_id)):
            raise SmsError("isv.INVALID_PARAMETERS", "out_id 格式错误")
        self._within_limits(phone)
        now = self.clock.time()
        self.serial += 1
        record = {
            "biz_id": f"{int(now * 1000) % 10**13:013d}{self.serial:06d}^0",
            "phone": phone,
            "sign_name": body["sign_name"],
            "template_code": template.code,
            "params": {name: params[name] for name in template.params},
            "out_id": out_id,
            "text": f"【{body['sign_name']}】" + template.render(params),
            "sent_at": self.clock.now().isoformat(timespec="seconds"),
        }
        self.outbox.append(record)
        self.last_sent[phone] = now
        day = self.clock.today()
        known_day, count = self.sent_today.get(phone, (day, 0))
        self.sent_today[phone] = (day, count + 1 if known_day == day else 1)
        return record

    def _within_limits(self, phone: str) -> None:
        known_day, count = self.sent_today.get(phone, (self.clock.today(), 0))
        if known_day == self.clock.today() and count >= PER_DAY:
            raise SmsError("isv.BUSINESS_LIMIT_CONTROL", f"触发天级流控Permits:{PER_DAY}")
        last = self.last_sent.get(phone)
        if last is not None and self.clock.time() - last < MINUTE_S:
            raise SmsError("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
