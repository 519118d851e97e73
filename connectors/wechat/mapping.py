"""Pure functions for the WeChat API's payloads. Quirks: every answer is HTTP 200, errors an
``errcode`` (a number) with ``errmsg``; a template message's ``msgid`` is a number; the token
answer has no ``errcode`` when it succeeds."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.tokens import Grant, grant_of

DEPARTMENT = "wechat"


@dataclass(frozen=True)
class Answer:
    errcode: int
    errmsg: str
    msgid: str | None


def answer(payload: object) -> Answer:
    """``{"errcode", "errmsg", "msgid"?}``; a missing ``errcode`` is 0, as on some APIs."""
    f = Fields(payload, DEPARTMENT, "answer")
    errcode = f.opt_integer("errcode") or 0
    msgid = None
    if errcode == 0:
        raw = f.integer("msgid")
        if raw <= 0:
            raise UpstreamPayloadError(DEPARTMENT, "answer.msgid: not positive")
        msgid = str(raw)
    return Answer(errcode, f.opt_text("errmsg") or "", msgid)


def grant(payload: object) -> Grant | Answer:
    """The token answer: a ``Grant``, or the error ``Answer`` (``errcode`` not 0)."""
    errcode = Fields(payload, DEPARTMENT, "token").opt_integer("errcode") or 0
    if errcode:
        return answer(payload)
    return grant_of(payload, DEPARTMENT, "access_token")


def template_data(values: dict[str, str]) -> dict[str, dict[str, str]]:
    """``{"thing1": "高龄津贴"}`` → ``{"thing1": {"value": "高龄津贴"}}``."""
    return {key: {"value": value} for key, value in values.items()}


def openid(payload: object) -> Answer | str:
    """``/sns/oauth2/access_token``'s answer: the authorised user's openid, or the refusal."""
    f = Fields(payload, DEPARTMENT, "oauth")
    errcode = f.opt_integer("errcode") or 0
    if errcode != 0:
        return Answer(errcode, f.opt_text("errmsg") or "", None)
    found = f.text("openid")
    if not found or len(found) > 64:
        raise UpstreamPayloadError(DEPARTMENT, "oauth.openid: empty or too long")
    return found
