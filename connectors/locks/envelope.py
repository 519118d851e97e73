"""The lock cloud's answers, decoded in one place: ``errcode`` → outcome → exception.

Every answer is HTTP 200. A refused call is ``{"errcode": <non-zero>, "errmsg", "description"}``;
a successful one has ``errcode`` 0 or none. One quirk: ``/v3/command/query`` answers a FAILED
command with ``{"status": "FAILED", "errcode": <the command's code>}``, a *successful* call whose
``errcode`` belongs to the command, so an answer carrying ``status`` is never a refused call.

``REFUSALS`` is the one code table for unlocks: a refused unlock call and a FAILED command map
through it alike. The cloud's own texts are never passed on: refusals carry the hub's domain
code and a short message of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from connectors.errors import ConnectorError, Refused, UpstreamNotFound, UpstreamRejected
from connectors.payload import Fields

TOKEN_INVALID = 10004
BAD_CREDENTIALS = 10003
DATE_SKEW = 80000
LOCK_NOT_FOUND = -1003

TIMED_OUT = "TIMED_OUT"
TIMED_OUT_MESSAGE = "开锁结果未能及时确认，请稍后再试"

REFUSALS: Mapping[int, tuple[str, str]] = MappingProxyType(
    {
        -2018: ("PERMISSION_DENIED", "您没有这把锁的钥匙"),
        -3046: ("NO_REMOTE_RIGHT", "这把钥匙不能远程开锁"),
        -2012: ("NO_GATEWAY", "这把锁附近没有网关，不能远程开锁"),
        -3002: ("GATEWAY_OFFLINE", "网关离线，暂时不能远程开锁"),
        -3003: ("GATEWAY_BUSY", "网关正忙，请稍后再试"),
        -3036: ("LOCK_OFFLINE", "门锁离线，暂时不能远程开锁"),
        -3037: ("LOCK_BUSY", "门锁正忙，请稍后再试"),
        30006: ("TOO_MANY_ATTEMPTS", "开锁过于频繁，请一分钟后再试"),
        LOCK_NOT_FOUND: ("NOT_FOUND", "门锁不存在"),
    }
)
"""Cloud errcode of a refused unlock or a FAILED command → (the hub's domain code, our message)."""


@dataclass(frozen=True)
class Envelope:
    """One decoded answer: the call's errcode (0 for success) and the whole JSON object."""

    errcode: int
    payload: Mapping[str, Any]

    def get(self, key: str) -> object:
        """A field of the answer (``list``, ``commandId`` …), or ``None``."""
        return self.payload.get(key)

    @property
    def ok(self) -> bool:
        return self.errcode == 0

    @property
    def token_invalid(self) -> bool:
        return self.errcode == TOKEN_INVALID


def decode(payload: object, department: str) -> Envelope:
    """The envelope of an answer; an answer that is not an object is a payload error."""
    answer = Fields(payload, department, "answer")
    errcode = answer.opt_integer("errcode") or 0
    assert isinstance(payload, Mapping)
    if "status" in payload:
        errcode = 0  # a command's outcome: its errcode is the command's, not the call's
    return Envelope(errcode, payload)


def rejected(department: str, errcode: int, what: str) -> UpstreamRejected:
    """A call the cloud refused for a reason that is not the resident's business."""
    reasons = {
        TOKEN_INVALID: "access token refused",
        BAD_CREDENTIALS: "platform credentials refused",
        DATE_SKEW: "date refused: the hub's clock is more than 5 minutes off",
    }
    reason = reasons.get(errcode, f"refused with {errcode}")
    return UpstreamRejected(department, f"{what}: {reason}", code=str(errcode))


def read_failure(department: str, errcode: int, what: str) -> ConnectorError:
    """A refused read: ``-1003`` is ``UpstreamNotFound``, anything else ``UpstreamRejected``."""
    if errcode == LOCK_NOT_FOUND:
        return UpstreamNotFound(department, f"{what}: lock not found")
    return rejected(department, errcode, what)


def unlock_failure(department: str, errcode: int, what: str) -> ConnectorError:
    """A refused unlock or FAILED command: ``Refused`` for the codes of ``REFUSALS``."""
    if errcode in REFUSALS:
        domain_code, message = REFUSALS[errcode]
        return Refused(department, domain_code, message)
    return rejected(department, errcode, what)


def timed_out(department: str) -> Refused:
    """The command was still pending when the caller's deadline passed."""
    return Refused(department, TIMED_OUT, TIMED_OUT_MESSAGE)


def operator_problem(errcode: int) -> bool:
    """Codes that say the hub itself is misconfigured: they count against the department's
    health (credentials, clock skew), unlike a resident's refusal."""
    return errcode in (BAD_CREDENTIALS, DATE_SKEW)
