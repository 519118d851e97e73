"""The open-API envelope both banks share: the signed form out, the signed answer back, codes.

Out: ``POST /api/{method}``, form-encoded ``app_id``, ``msg_id`` (≤ 40), ``format=json``,
``charset=UTF-8``, ``sign_type=RSA2``, ``timestamp`` (``yyyy-MM-dd HH:mm:ss``, Asia/Shanghai),
``biz_content`` (compact JSON, Chinese as is) and ``sign`` (``signing``).

Back: HTTP 200 ``{"response_biz_content": {"return_code": 0, "return_msg": "", …}, "sign": …}``
for refusals too. ``open_answer`` verifies the bank's signature before anything is read from
it; ``failure`` is the one table from a non-zero ``return_code`` to the hub's exceptions. The
bank's ``return_msg`` is never passed on: refusals carry our own short message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.bank import signing
from connectors.errors import (
    ConnectorError,
    Refused,
    UpstreamPayloadError,
    UpstreamRejected,
    UpstreamUnavailable,
)
from connectors.payload import Fields

# Asia/Shanghai has kept UTC+8 without daylight saving since 1991: no tz database needed
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
STAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
API_PREFIX = "/api/"
MAX_MSG_ID = 40
MAX_BATCH = 20

OK = 0
BAD_PARAMETERS = 400011
BAD_SIGNATURE = 400017
NOT_FOUND = 400024

REJECTED: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        BAD_PARAMETERS: ("bad_parameters", "the bank refused the parameters or the timestamp"),
        BAD_SIGNATURE: ("bad_signature", "the bank refused our app_id or signature"),
    }
)
"""Codes that mean the hub's call was wrong → ``UpstreamRejected.code``, log message."""

UNAVAILABLE: Mapping[int, str] = MappingProxyType(
    {
        500031: "the bank's rate limit was reached",
        500032: "too many calls in flight at the bank",
        5205: "the bank is busy",
    }
)
"""Codes that mean "not now" → ``UpstreamUnavailable``."""

REFUSALS: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        400021: ("SLOT_FULL", "该时段已约满，请选择其他时段"),
        400022: ("CANNOT_CANCEL", "该预约已办理、已取消或时段已开始，不能取消"),
        400023: ("ITEM_NOT_HANDLED", "该网点不办理此事项"),
        NOT_FOUND: ("NOT_FOUND", "网点或预约不存在"),
    }
)
"""Business codes → (the hub's domain code, our message)."""

INVALID_BOOKING = (
    "INVALID_BOOKING",
    "预约日期须为明日起14日内，时段须在网点营业时间内，手机号须有效",
)
"""``400011`` answered to a booking: the caller's date, slot or mobile is not acceptable."""


@dataclass(frozen=True)
class Answer:
    """A verified answer: its return code and every field of ``response_biz_content``."""

    code: int
    fields: Mapping[str, Any]


def stamp(wall_seconds: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in Shanghai for a POSIX time."""
    return datetime.fromtimestamp(wall_seconds, SHANGHAI).strftime(STAMP_FORMAT)


def parse_stamp(text: str) -> datetime:
    """A bank timestamp (``yyyy-MM-dd HH:mm:ss``, Shanghai) as an aware datetime."""
    return datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=SHANGHAI)


def checked_msg_id(msg_id: str) -> str:
    """A write's ``msg_id``, which the bank keys its replay on: 1 to 40 characters."""
    if not 1 <= len(msg_id) <= MAX_MSG_ID:
        raise ValueError(f"a bank write needs a msg_id of 1…{MAX_MSG_ID} characters")
    return msg_id


def distinct(keys: Sequence[str]) -> list[str]:
    """Each non-empty key once, in first-seen order."""
    return list(dict.fromkeys(key for key in keys if key))


def chunks(keys: Sequence[str], size: int = MAX_BATCH) -> list[list[str]]:
    """``keys`` in consecutive batches of at most ``size``."""
    return [list(keys[start : start + size]) for start in range(0, len(keys), size)]


def path_of(method: str) -> str:
    return API_PREFIX + method


def request_form(
    method: str,
    biz: Mapping[str, object],
    *,
    app_id: str,
    msg_id: str,
    timestamp: str,
    key: rsa.RSAPrivateKey,
) -> dict[str, str]:
    """Every form field of one call to ``method``, signed with the app key."""
    form = {
        "app_id": app_id,
        "msg_id": msg_id,
        "format": "json",
        "charset": "UTF-8",
        "sign_type": "RSA2",
        "timestamp": timestamp,
        "biz_content": json.dumps(biz, ensure_ascii=False, separators=(",", ":")),
    }
    content = signing.signing_string(path_of(method), form).encode("utf-8")
    form["sign"] = signing.sign(key, content)
    return form


def open_answer(body: bytes, bank_key: rsa.RSAPublicKey, department: str) -> Answer:
    """The answer in ``body`` once its signature verifies; else ``UpstreamPayloadError``."""
    try:
        signed = signing.split_answer(body)
    except signing.AnswerShapeError as exc:
        raise UpstreamPayloadError(department, str(exc)) from exc
    if signed.signature is None:
        raise UpstreamPayloadError(department, "answer carries no signature")
    if not signing.verify(bank_key, signed.content, signed.signature):
        raise UpstreamPayloadError(department, "answer signature does not verify")
    content = Fields(signed.parsed, department, signing.CONTENT_KEY)
    code = content.integer("return_code")
    assert isinstance(signed.parsed, Mapping)
    return Answer(code, signed.parsed)


def failure(department: str, code: int, what: str, *, booking: bool = False) -> ConnectorError:
    """The exception for a non-zero ``return_code`` answered to ``what``.

    ``400011`` is the hub's mistake on every call but a booking, where it means the resident's
    date, slot or mobile is not acceptable (``Refused("INVALID_BOOKING")``).
    """
    if booking and code == BAD_PARAMETERS:
        return Refused(department, *INVALID_BOOKING)
    if code in REFUSALS:
        return Refused(department, *REFUSALS[code])
    if code in REJECTED:
        reason, message = REJECTED[code]
        return UpstreamRejected(department, f"{what}: {message}", code=reason)
    if code in UNAVAILABLE:
        return UpstreamUnavailable(department, f"{what}: {UNAVAILABLE[code]}")
    return UpstreamRejected(department, f"{what}: return_code {code}", code=str(code))


def counts_against_health(code: int) -> bool:
    """A refused signature makes the whole bank unusable; so does a bank that is busy."""
    return code == BAD_SIGNATURE or code in UNAVAILABLE
