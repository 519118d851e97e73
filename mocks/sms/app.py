"""HTTP surface of the SMS gateway (operator-style, Aliyun-like).

``POST /sms/send`` ``{app_id, sign_name, template_code, phone, params: {name: text}, out_id}``,
signed (``mocks.sms.signing``) → ``{"code": "OK", "message": "OK", "biz_id", "request_id"}``.
Every refusal is HTTP 200 too, the code in the body: ``SignatureDoesNotMatch``,
``SignatureNonceUsed``, ``InvalidTimeStamp.Expired``, ``InvalidAccessKeyId.NotFound``,
``isv.SMS_SIGNATURE_ILLEGAL``, ``isv.SMS_TEMPLATE_ILLEGAL``, ``isv.TEMPLATE_MISSING_PARAMETERS``,
``isv.MOBILE_NUMBER_ILLEGAL``, ``isv.INVALID_PARAMETERS``, ``isv.BUSINESS_LIMIT_CONTROL``.

Callbacks (``mocks.sms.callbacks``), JSON, times ``yyyy-MM-dd HH:mm:ss`` in Shanghai:

- after each accepted message, a delivery report ``{"type": "SmsReport", "phone_number",
  "biz_id", "out_id", "success", "err_code": "DELIVERED" | …, "err_msg", "send_time",
  "report_time", "sms_size"}``;
- for ``POST /__admin/uplink {phone, text}``, a resident's reply ``{"type": "SmsUp",
  "phone_number", "content", "sign_name", "dest_code", "sequence_id" (a number),
  "send_time"}``.

Admin: ``GET|POST /__admin/callback`` ``{"url"}`` (``null``: none), ``GET /__admin/callbacks``,
``POST /__admin/callbacks/flush``, ``POST /__admin/uplink``, ``GET /__admin/outbox``,
``POST /__admin/undeliverable {"phones": [...]}`` (their reports say not delivered),
``POST /__admin/reset`` (outbox, limits, callbacks, URL, clock), ``/__admin/clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from mocks.common.clock import CLOCK_KEY, install_clock
from mocks.common.gov import answer, json_body
from mocks.sms.callbacks import Callbacks, SmsFaults
from mocks.sms.gateway import APPS, CALLBACK_SIGNING_KEY, PHONE, Gateway, SmsError
from mocks.sms.signing import NONCE, SIGNATURE, TIMESTAMP, Nonces, fresh, request_text, sign

DEST_CODE = "106903301"
GATEWAY_KEY = web.AppKey("sms_gateway", Gateway)
CALLBACKS_KEY = web.AppKey("sms_callbacks", Callbacks)
NONCES_KEY = web.AppKey("sms_nonces", Nonces)
UPLINKS_KEY = web.AppKey("sms_uplinks", list[int])


def _answer(code: str, message: str, **extra: Any) -> web.Response:
    request_id = str(uuid.uuid4()).upper()
    return answer({"code": code, "message": message, "request_id": request_id, **extra})


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _check_signature(request: web.Request, body: dict[str, Any], raw: bytes) -> None:
    app_id = body.get("app_id")
    secret = APPS.get(app_id) if isinstance(app_id, str) else None
    if secret is None:
        raise SmsError("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
    timestamp = request.headers.get(TIMESTAMP, "")
    nonce = request.headers.get(NONCE, "")
    signature = request.headers.get(SIGNATURE, "")
    if not (timestamp and nonce and signature):
        raise SmsError("SignatureDoesNotMatch", "X-Sms-Timestamp, -Nonce and -Signature needed.")
    if not fresh(timestamp):
        raise SmsError("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
    expected = sign(secret, request_text(request.method, request.path, timestamp, nonce, raw))
    if not hmac.compare_digest(expected, signature.lower()):
        raise SmsError(
            "SignatureDoesNotMatch", "Specified signature is not matched with our calculation."
        )
    if not request.app[NONCES_KEY].first_use(nonce):
        raise SmsError("SignatureNonceUsed", "Specified signature nonce was used already.")


async def send(request: web.Request) -> web.Response:
    raw = await request.read()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _answer("isv.INVALID_PARAMETERS", "请求体必须是 JSON 对象")
    gateway = request.app[GATEWAY_KEY]
    try:
        _check_signature(request, body, raw)
        record = gateway.send(body)
    except SmsError as refused:
        return _answer(refused.code, refused.message)
    _report(request.app, record)
    return _answer("OK", "OK", biz_id=record["biz_id"])


def _report(app: web.Application, record: dict[str, Any]) -> None:
    gateway, clock = app[GATEWAY_KEY], app[CLOCK_KEY]
    delivered = record["phone"] not in gateway.undeliverable
    payload = {
        "type": "SmsReport",
        "phone_number": record["phone"],
        "biz_id": record["biz_id"],
        "out_id": record["out_id"],
        "success": delivered,
        "err_code": "DELIVERED" if delivered else "MN:0001",
        "err_msg": "用户接收成功" if delivered else "用户停机或空号",
        "send_time": stamp(datetime.fromisoformat(record["sent_at"])),
        "report_time": stamp(clock.now()),
        "sms_size": "1",
    }
    app[CALLBACKS_KEY].enqueue("SmsReport", record["biz_id"], _json(payload))


def _json(payload: object) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


# -- admin -------------------------------------------------------------------------------


async def _get_callback(request: web.Request) -> web.Response:
    return answer({"url": request.app[CALLBACKS_KEY].url})


async def _set_callback(request: web.Request) -> web.Response:
    body = await json_body(request)
    url = body.get("url", 0) if isinstance(body, dict) else 0  # 0: not given
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        return answer({"error": "url must be an http(s) URL or null"}, 400)
    request.app[CALLBACKS_KEY].url = url
    return answer({"url": url})


async def _callbacks(request: web.Request) -> web.Response:
    return answer(request.app[CALLBACKS_KEY].view())


async def _flush(request: web.Request) -> web.Response:
    return answer({"released": request.app[CALLBACKS_KEY].flush()})


async def _uplink(request: web.Request) -> web.Response:
    body = await json_body(request)
    phone = body.get("phone") if isinstance(body, dict) else None
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(phone, str) or not PHONE.fullmatch(phone) or not isinstance(text, str):
        return answer({"error": "phone (a mobile number) and text are required"}, 400)
    serials = request.app[UPLINKS_KEY]
    serials[0] += 1
    sequence_id = serials[0]
    payload = {
        "type": "SmsUp",
        "phone_number": phone,
        "content": text,
        "sign_name": "i罗湖",
        "dest_code": DEST_CODE,
        "sequence_id": sequence_id,
        "send_time": stamp(request.app[CLOCK_KEY].now()),
    }
    request.app[CALLBACKS_KEY].enqueue("SmsUp", str(sequence_id), _json(payload))
    return answer({"uplink_id": str(sequence_id)})


async def _outbox(request: web.Request) -> web.Response:
    return answer({"messages": request.app[GATEWAY_KEY].outbox})


async def _undeliverable(request: web.Request) -> web.Response:
    body = await json_body(request)
    phones = body.get("phones") if isinstance(body, dict) else None
    if not isinstance(phones, list) or not all(isinstance(p, str) for p in phones):
        return answer({"error": "phones must be a list of mobile numbers"}, 400)
    request.app[GATEWAY_KEY].undeliverable = set(phones)
    return answer({"phones": sorted(phones)})


async def _reset(request: web.Request) -> web.Response:
    request.app[GATEWAY_KEY].clear()
    request.app[CALLBACKS_KEY].clear()
    request.app[CLOCK_KEY].offset_s = 0.0
    return answer({"ok": True})


async def _worker(app: web.Application) -> AsyncIterator[None]:
    """The callback worker runs while the application does."""
    async with aiohttp.ClientSession() as session:
        task = asyncio.create_task(app[CALLBACKS_KEY].run(session))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def add_routes(app: web.Application, faults: SmsFaults) -> None:
    clock = install_clock(app)
    app[GATEWAY_KEY] = Gateway(clock)
    app[CALLBACKS_KEY] = Callbacks(faults, CALLBACK_SIGNING_KEY)
    app[NONCES_KEY] = Nonces()
    app[UPLINKS_KEY] = [880_000]
    app.cleanup_ctx.append(_worker)
    app.router.add_post("/sms/send", send)
    app.router.add_get("/__admin/callback", _get_callback)
    app.router.add_post("/__admin/callback", _set_callback)
    app.router.add_get("/__admin/callbacks", _callbacks)
    app.router.add_post("/__admin/callbacks/flush", _flush)
    app.router.add_post("/__admin/uplink", _uplink)
    app.router.add_get("/__admin/outbox", _outbox)
    app.router.add_post("/__admin/undeliverable", _undeliverable)
    app.router.add_post("/__admin/reset", _reset)
