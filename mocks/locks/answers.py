"""The cloud's answers: HTTP 200 always, failures as ``{errcode, errmsg, description}``.

Every error code the mock produces is listed here, with the condition that produces it; the
package docstring says which call returns which.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import partial

from aiohttp import web

BAD_PARAMETER = -3  # a missing or malformed parameter, pageSize over 100, more than 20 lockIds
BAD_CREDENTIALS = 10003  # wrong clientId / clientSecret / username / password
TOKEN_INVALID = 10004
DATE_SKEW = 80000  # ``date`` missing or more than 5 minutes from the mock's now
CALL_LIMIT = 30006  # an 11th unlock of one lock within 60 s
LOCK_NOT_FOUND = -1003
PERMISSION_DENIED = -2018  # the uid has no key record (or only a deleted one) on the lock
NO_GATEWAY = -2012
GATEWAY_OFFLINE = -3002
GATEWAY_BUSY = -3003
LOCK_OFFLINE = -3036
LOCK_BUSY = -3037
NO_REMOTE_RIGHT = -3046  # only when forced through the admin surface: the cloud never checks

MESSAGES: dict[int, tuple[str, str]] = {
    BAD_PARAMETER: ("Invalid Parameter", "参数错误"),
    BAD_CREDENTIALS: ("invalid account or password", "用户名或密码错误"),
    TOKEN_INVALID: ("invalid token", "token无效或已过期"),
    DATE_SKEW: ("date must be current time, in 5 minutes", "date参数与当前时间相差超过5分钟"),
    CALL_LIMIT: ("API call limit exceeded", "调用过于频繁"),
    LOCK_NOT_FOUND: ("lock does not exist", "锁不存在"),
    PERMISSION_DENIED: ("permission denied", "无权限"),
    NO_GATEWAY: ("no gateway near the lock", "锁附近没有网关"),
    GATEWAY_OFFLINE: ("gateway offline", "网关离线"),
    GATEWAY_BUSY: ("gateway busy", "网关忙"),
    LOCK_OFFLINE: ("lock offline", "锁离线"),
    LOCK_BUSY: ("lock busy", "锁忙"),
    NO_REMOTE_RIGHT: ("key has no remote unlock right", "钥匙没有远程开锁权限"),
}

dumps = partial(json.dumps, ensure_ascii=False, separators=(",", ":"))


class CloudError(Exception):
    """A refusal raised anywhere below a handler and answered by :func:`fail`."""

    def __init__(self, errcode: int, detail: str = "") -> None:
        super().__init__(errcode, detail)
        self.errcode = errcode
        self.detail = detail


def ok(fields: Mapping[str, object]) -> web.Response:
    """A successful answer: the fields as they are (with or without ``errcode: 0``)."""
    return web.Response(text=dumps(dict(fields)), content_type="application/json")


def fail(errcode: int, detail: str = "") -> web.Response:
    """A refusal, still HTTP 200; ``detail`` replaces the stock description when given."""
    errmsg, description = MESSAGES[errcode]
    payload = {"errcode": errcode, "errmsg": errmsg, "description": detail or description}
    return web.Response(text=dumps(payload), content_type="application/json")


def page(items: list[dict[str, object]], page_no: int, page_size: int) -> dict[str, object]:
    """One page of a list, in the cloud's ``{list, pageNo, pageSize, pages, total}`` shape."""
    total = len(items)
    start = (page_no - 1) * page_size
    return {
        "list": items[start : start + page_size],
        "pageNo": page_no,
        "pageSize": page_size,
        "pages": -(-total // page_size),
        "total": total,
    }
