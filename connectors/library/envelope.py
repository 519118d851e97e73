"""The openlib envelope, decoded in one place: ``success``, ``messagelist``, codes → exceptions.

Every answer is HTTP 200 with ``{"success": bool, "messagelist": [{"code", "message"}], …}``;
refusals are codes, never statuses. ``decode`` checks the envelope's shape, ``failure`` turns a
``success: false`` answer into the one exception the rest of the hub understands. The
upstream's own message texts are never passed on: refusals carry the hub's domain code and
a short message of ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from connectors.errors import ConnectorError, Refused, UpstreamNotFound, UpstreamRejected
from connectors.payload import Fields

TOKEN_INVALID = "E00401"  # noqa: S105 - an error code, not a secret
BAD_CREDENTIALS = "E00403"
NOT_FOUND = "E00404"

REFUSALS: Mapping[str, tuple[str, str]] = MappingProxyType(
    {
        "E00310": ("READER_SUSPENDED", "借阅证已暂停或已过期，暂不能借书"),
        "E00311": ("LOAN_LIMIT_REACHED", "已达到可借册数上限"),
        "E00312": ("ITEM_NOT_AVAILABLE", "这册书目前不可借"),
        "E00320": ("RENEWAL_LIMIT_REACHED", "已达到续借次数上限"),
        "E00321": ("ON_HOLD_FOR_ANOTHER_READER", "这本书已有其他读者预约，不能续借"),
        "E00322": ("OVERDUE", "这册书已逾期，不能续借"),
        "E00330": ("NOT_ON_LOAN", "这册书不在借出状态"),
        NOT_FOUND: ("NOT_FOUND", "借阅证或图书条码不存在"),
    }
)
"""Upstream code of a refused write → (the hub's domain code, our message)."""


@dataclass(frozen=True)
class Envelope:
    """One decoded answer: the outcome, its codes in order, and the whole JSON object."""

    success: bool
    codes: tuple[str, ...]
    payload: Mapping[str, Any]

    def get(self, key: str) -> object:
        """A field beside the envelope (``reader``, ``items``, ``loan`` …), or ``None``."""
        return self.payload.get(key)

    @property
    def code(self) -> str | None:
        """The code that explains the outcome: the first ``E…`` one, else the first one."""
        errors = [code for code in self.codes if code.startswith("E")]
        first = errors or self.codes
        return first[0] if first else None

    @property
    def token_invalid(self) -> bool:
        return not self.success and TOKEN_INVALID in self.codes

    @property
    def only_misses(self) -> bool:
        """A failed batch whose every code is a per-id ``E00404``: nothing found, no failure."""
        return not self.success and bool(self.codes) and set(self.codes) == {NOT_FOUND}


def decode(payload: object, department: str) -> Envelope:
    """The envelope of an answer; a missing ``success`` or ``messagelist`` is a payload error."""
    answer = Fields(payload, department, "answer")
    success = answer.flag("success")
    codes = tuple(
        Fields(message, department, "answer.messagelist[]").text("code")
        for message in answer.array("messagelist")
    )
    assert isinstance(payload, Mapping)
    return Envelope(success, codes, payload)


def failure(department: str, answer: Envelope, *, what: str, write: bool) -> ConnectorError:
    """The exception for a ``success: false`` answer to ``what``.

    Writes: the codes of ``REFUSALS`` are business refusals (``Refused``). Reads: ``E00404``
    means the thing does not exist (``UpstreamNotFound``). Anything else, including a token
    still refused after a refresh, is ``UpstreamRejected`` with the upstream code.
    """
    code = answer.code
    if write and code is not None and code in REFUSALS:
        domain_code, message = REFUSALS[code]
        return Refused(department, domain_code, message)
    if code == NOT_FOUND:
        return UpstreamNotFound(department, f"{what}: not found")
    return UpstreamRejected(department, f"{what}: refused with {code}", code=code)
