"""Pure functions for the SMS gateway's payloads. Quirks: every answer is HTTP 200 with the
outcome in ``code``; callback times are ``yyyy-MM-dd HH:mm:ss`` in Shanghai; an uplink's
``sequence_id`` is a number; one webhook takes both kinds, told apart by ``type``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.sms.models import SmsReport, SmsUplink

DEPARTMENT = "sms"
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
REPORT = "SmsReport"
UPLINK = "SmsUp"


@dataclass(frozen=True)
class Answer:
    """What ``/sms/send`` answered: ``code`` ``OK`` with a ``biz_id``, or a refusal."""

    code: str
    message: str
    biz_id: str | None


def answer(payload: object) -> Answer:
    f = Fields(payload, DEPARTMENT, "send")
    code = f.text("code")
    biz_id = f.text("biz_id") if code == "OK" else None
    return Answer(code, f.opt_text("message") or "", biz_id)


def moment(text: str, record: str) -> datetime:
    """``2026-11-27 10:00:05`` (Shanghai) → an aware datetime."""
    try:
        parsed = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"{record}: not a time: {text!r}") from exc
    return parsed.replace(tzinfo=SHANGHAI)


def report(payload: object) -> SmsReport:
    f = Fields(payload, DEPARTMENT, "report")
    return SmsReport(
        out_id=f.opt_text("out_id") or "",
        biz_id=f.text("biz_id"),
        phone=f.text("phone_number"),
        delivered=f.flag("success"),
        error_code=f.opt_text("err_code") or "",
        reported_at=moment(f.text("report_time"), "report.report_time"),
    )


def uplink(payload: object) -> SmsUplink:
    f = Fields(payload, DEPARTMENT, "uplink")
    return SmsUplink(
        phone=f.text("phone_number"),
        text=f.text("content"),
        uplink_id=str(f.integer("sequence_id")),
        received_at=moment(f.text("send_time"), "uplink.send_time"),
    )


def callback(payload: object) -> SmsReport | SmsUplink:
    kind = Fields(payload, DEPARTMENT, "callback").text("type")
    if kind == REPORT:
        return report(payload)
    if kind == UPLINK:
        return uplink(payload)
    raise UpstreamPayloadError(DEPARTMENT, f"callback.type: unknown {kind!r}")
