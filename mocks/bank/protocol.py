"""The open-API gateway both banks share: verify the call, admit it, run it once, sign the answer.

Every answer is HTTP 200 ``{"response_biz_content":{…},"sign":"…"}``, refusals included, and
is signed with the bank's key over the exact text of ``response_biz_content`` as it appears in
the body. A call is checked in this order, the first failure answering:

1. ``application/x-www-form-urlencoded`` with every required parameter, once → ``400011``
2. ``app_id`` known → ``400017``; ``sign`` verifies with the app's public key → ``400017``
3. ``format=json``, ``charset=UTF-8``, ``sign_type=RSA2``, ``msg_id`` ≤ 40 characters, and
   ``timestamp`` within 5 minutes of the bank's clock → ``400011``
4. the gate: rate ``500031``, busy ``5205``, in flight ``500032`` (``mocks.bank.limits``)
5. ``msg_id`` seen before: the first answer again, or ``400011`` if the call differs
6. the method: unknown ``400011``; ``biz_content`` not a JSON object ``400011``; its own codes
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web

from mocks.bank.clock import parse_stamp
from mocks.bank.codes import BAD_PARAMETER, BAD_SIGNATURE, BUSY, OK, BankRefusal, bad_parameter
from mocks.bank.replay import fingerprint
from mocks.bank.signing import sign, signing_string, verify
from mocks.bank.state import BANK_KEY, BankState, Call

API_PREFIX = "/api/"
REQUIRED = (
    "app_id",
    "msg_id",
    "format",
    "charset",
    "sign_type",
    "timestamp",
    "biz_content",
    "sign",
)
MAX_MSG_ID = 40
MAX_SKEW = timedelta(minutes=5)
FORM = "application/x-www-form-urlencoded"


def signed_body(
    bank: BankState, code: int, message: str, fields: Mapping[str, Any] | None = None
) -> bytes:
    """The whole answer; ``sign`` covers the very bytes of the embedded content text."""
    content = {"return_code": code, "return_msg": message, **(fields or {})}
    text = json.dumps(content, ensure_ascii=False, separators=(",", ":"))
    signature = sign(bank.keys.bank_private, text.encode("utf-8"))
    return f'{{"response_biz_content":{text},"sign":"{signature}"}}'.encode()


def _respond(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json", charset="utf-8")


async def handle_api(request: web.Request) -> web.Response:
    """``POST /api/{method}`` for whichever dialect the bank speaks."""
    bank = request.app[BANK_KEY]
    method = request.path[len(API_PREFIX) :]
    try:
        params = await _read_params(request)
        _authenticate(bank, request.path, params)
        _check_transport(bank, params)
        with bank.gate.admit(params["app_id"]):
            return _respond(await _once(request, bank, method, params))
    except BankRefusal as refusal:
        return _respond(signed_body(bank, refusal.code, refusal.message))


async def _read_params(request: web.Request) -> dict[str, str]:
    if request.content_type != FORM:
        raise bad_parameter(f"Content-Type 须为 {FORM}")
    form = await request.post()
    params: dict[str, str] = {}
    for key in form:
        values = form.getall(key)
        if len(values) > 1 or not isinstance(values[0], str):
            raise bad_parameter(f"参数重复或格式错误: {key}")
        params[key] = values[0]
    missing = [name for name in REQUIRED if not params.get(name)]
    if missing:
        raise bad_parameter(f"缺少必填参数: {','.join(missing)}")
    return params


def _authenticate(bank: BankState, path: str, params: Mapping[str, str]) -> None:
    if params["app_id"] != bank.keys.app_id:
        raise BankRefusal(BAD_SIGNATURE, f"app_id 不存在: {params['app_id']}")
    content = signing_string(path, params).encode("utf-8")
    if not verify(bank.keys.app_public, content, params["sign"]):
        raise BankRefusal(BAD_SIGNATURE, "签名验证失败")


def _check_transport(bank: BankState, params: Mapping[str, str]) -> None:
    if params["format"].lower() != "json":
        raise bad_parameter("format 须为 json")
    if params["charset"].upper() != "UTF-8":
        raise bad_parameter("charset 须为 UTF-8")
    if params["sign_type"] != "RSA2":
        raise bad_parameter("sign_type 须为 RSA2")
    if len(params["msg_id"]) > MAX_MSG_ID:
        raise bad_parameter(f"msg_id 不得超过{MAX_MSG_ID}个字符")
    sent = parse_stamp(params["timestamp"])
    if sent is None:
        raise bad_parameter("timestamp 格式须为 yyyy-MM-dd HH:mm:ss")
    if abs(bank.clock.now() - sent) > MAX_SKEW:
        raise bad_parameter("timestamp 与服务器时间相差超过5分钟")


async def _once(
    request: web.Request, bank: BankState, method: str, params: Mapping[str, str]
) -> bytes:
    app_id, msg_id = params["app_id"], params["msg_id"]
    digest = fingerprint(method, params["biz_content"])
    seen = bank.replays.lookup(app_id, msg_id)
    if seen is not None:
        if seen.fingerprint != digest:
            raise bad_parameter(f"msg_id 已被另一请求使用: {msg_id}")
        try:
            return await asyncio.shield(seen.answer)
        except asyncio.CancelledError:
            if not seen.answer.cancelled():
                raise
            raise BankRefusal(BUSY, "原请求处理中断，请稍后重试") from None
    entry = bank.replays.open(app_id, msg_id, digest)
    try:
        delay = bank.gate.limits.processing_ms
        if delay:
            await asyncio.sleep(delay / 1000)
        body = _run(request, bank, method, params["biz_content"])
    except BaseException as exc:
        bank.replays.drop(app_id, msg_id, entry, exc)
        raise
    bank.replays.settle(entry, body)
    return body


def _run(request: web.Request, bank: BankState, method: str, biz_content: str) -> bytes:
    run = bank.methods.get(method)
    if run is None:
        return signed_body(bank, BAD_PARAMETER, f"未知接口: {method}")
    try:
        biz = json.loads(biz_content)
    except ValueError:
        return signed_body(bank, BAD_PARAMETER, "biz_content 不是合法的 JSON")
    if not isinstance(biz, dict):
        return signed_body(bank, BAD_PARAMETER, "biz_content 须为 JSON 对象")
    try:
        fields = run(Call(bank, biz, request))
    except BankRefusal as refusal:
        return signed_body(bank, refusal.code, refusal.message)
    return signed_body(bank, OK, "", fields)
