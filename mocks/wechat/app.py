"""HTTP surface of the WeChat official-account API (the district's service account).

Every answer is HTTP 200; errors are ``{"errcode", "errmsg"}`` with the request id appended to
``errmsg`` (`` rid: …``), as WeChat does.

- ``GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`` → ``{"access_token",
  "expires_in": 7200}`` (``mocks.wechat.tokens``: a new token ends the old one 5 minutes
  later); ``40002`` grant type, ``40013`` appid, ``40125`` secret.
- ``POST /cgi-bin/message/template/send?access_token=`` ``{touser, template_id, url, data:
  {key: {value}}}`` → ``{"errcode": 0, "errmsg": "ok", "msgid": <number>}``; ``40001`` token
  invalid or not the latest, ``42001`` token expired, ``45009`` the day's quota reached
  (``POST /__admin/quota {"daily": n}``, 100,000 by default, per Shanghai day on the mock's
  clock), ``40037`` unknown template, ``40003`` unknown openid, ``43004`` the person does not
  follow the account (``mocks.common.population.follows``), ``47003`` a template key missing
  or too long (``thing`` values at most 20 characters, ``phrase`` 5).

- ``GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code`` →
  ``{"access_token", "openid", "scope": "snsapi_base", …}`` for a web-page authorisation code
  (``POST /__admin/oauth-code {"id_number"}`` plays the person opening the page: a code good
  once for 5 minutes); ``40029`` invalid or expired, ``40163`` used.

Openids are ``mocks.common.population.openid_of(id_number)``. Admin: ``GET /__admin/outbox``,
``GET /__admin/tokens``, ``POST /__admin/tokens/rotate`` (a token fetched elsewhere, as by
another server of the same app), ``POST /__admin/followers {"openid", "follows"}``,
``POST /__admin/reset`` (outbox, quota count, tokens, followers, clock), ``/__admin/clock``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from mocks.common.clock import CLOCK_KEY, MockClock, install_clock
from mocks.common.gov import POPULATION_KEY, answer, install_population, json_body
from mocks.common.launcher import MockConfig
from mocks.common.population import follows, id_number_of_openid, openid_of
from mocks.wechat.tokens import LIFETIME_S, Tokens

APPS = {"wx-ihub-luohu": "dev-wechat-secret"}
DAILY_QUOTA = 100_000
# template id -> its keys; a key's kind (its letters) bounds its value's length
TEMPLATES: dict[str, tuple[str, ...]] = {
    "ihub-offer-notice": ("thing1", "thing2", "time3"),
    "ihub-decision-result": ("thing1", "phrase2", "time3"),
}
LIMITS = {"thing": 20, "phrase": 5, "time": 32}
MESSAGES = {
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40013: "invalid appid",
    40029: "invalid code",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40163: "code been used",
    42001: "access_token expired",
    43004: "require subscribe",
    45009: "reach max api daily quota limit",
    47003: "argument invalid!",
}


@dataclass
class Account:
    clock: MockClock
    tokens: Tokens
    daily_quota: int = DAILY_QUOTA
    sent: tuple[date, int] | None = None
    outbox: list[dict[str, Any]] = field(default_factory=list)
    followers: dict[str, bool] = field(default_factory=dict)
    serial: int = 0
    codes: dict[str, tuple[str, float]] = field(default_factory=dict)
    """Web-page authorisation codes: code → (openid, when it expires on the mock's clock)."""
    used: set[str] = field(default_factory=set)

    def sent_today(self) -> int:
        if self.sent is None or self.sent[0] != self.clock.today():
            return 0
        return self.sent[1]

    def count_one(self) -> None:
        self.sent = (self.clock.today(), self.sent_today() + 1)

    def clear(self) -> None:
        self.sent = None
        self.outbox.clear()
        self.followers.clear()
        self.tokens.clear()
        self.daily_quota = DAILY_QUOTA
        self.codes.clear()
        self.used.clear()


ACCOUNT_KEY = web.AppKey("wechat_account", Account)


def _error(errcode: int, detail: str = "") -> web.Response:
    rid = f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"
    message = MESSAGES[errcode] + (f" {detail}" if detail else "")
    return answer({"errcode": errcode, "errmsg": f"{message} rid: {rid}"})


async def token(request: web.Request) -> web.Response:
    query = request.query
    if query.get("grant_type") != "client_credential":
        return _error(40002)
    secret = APPS.get(query.get("appid", ""))
    if secret is None:
        return _error(40013)
    if query.get("secret") != secret:
        return _error(40125)
    value = request.app[ACCOUNT_KEY].tokens.issue()
    return answer({"access_token": value, "expires_in": LIFETIME_S})


CODE_LIFETIME_S = 300
"""A web-page authorisation code lasts five minutes and is good once."""


async def oauth_access_token(request: web.Request) -> web.Response:
    """``/sns/oauth2/access_token``: the openid of whoever authorised the service account's
    web page (``snsapi_base``): WeChat redirected their browser there with ``code``."""
    query = request.query
    if query.get("grant_type") != "authorization_code":
        return _error(40002)
    secret = APPS.get(query.get("appid", ""))
    if secret is None:
        return _error(40013)
    if query.get("secret") != secret:
        return _error(40125)
    account = request.app[ACCOUNT_KEY]
    code = query.get("code", "")
    if code in account.used:
        return _error(40163)
    found = account.codes.pop(code, None)
    if found is None or found[1] < account.clock.time():
        return _error(40029)
    account.used.add(code)
    openid, _ = found
    return answer(
        {
            "access_token": secrets.token_urlsafe(24), "expires_in": 7200,
            "refresh_token": secrets.token_urlsafe(24), "openid": openid,
            "scope": "snsapi_base",
        }
    )  # fmt: skip


def _data_problem(keys: tuple[str, ...], data: object) -> str | None:
    if not isinstance(data, dict):
        return "data must be an object"
    for key in keys:
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            return f"data.{key}.value is empty"
        if len(value) > LIMITS[key.rstrip("0123456789")]:
            return f"data.{key}.value is too long"
    return None


async def send(request: web.Request) -> web.Response:
    account = request.app[ACCOUNT_KEY]
    refusal = account.tokens.refusal(request.query.get("access_token", ""))
    if refusal is not None:
        return _error(refusal)
    if account.sent_today() >= account.daily_quota:
        return _error(45009)
    body = await json_body(request)
    if not isinstance(body, dict):
        return _error(47003, "body must be a JSON object")
    keys = TEMPLATES.get(str(body.get("template_id")))
    if keys is None:
        return _error(40037)
    openid = body.get("touser")
    id_number = id_number_of_openid(openid) if isinstance(openid, str) else None
    if id_number is None or request.app[POPULATION_KEY].person(id_number) is None:
        return _error(40003)
    assert isinstance(openid, str)
    if not account.followers.get(openid, follows(id_number)):
        return _error(43004)
    problem = _data_problem(keys, body.get("data"))
    if problem is not None:
        return _error(47003, problem)
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        return _error(47003, "url must be a string")
    account.serial += 1
    msgid = 2_026_112_700_000_000 + account.serial
    account.count_one()
    account.outbox.append(
        {
            "msgid": msgid,
            "touser": openid,
            "template_id": body["template_id"],
            "data": {key: body["data"][key]["value"] for key in keys},
            "url": url,
            "sent_at": account.clock.now().isoformat(timespec="seconds"),
        }
    )
    return answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})


# -- admin -------------------------------------------------------------------------------


async def _outbox(request: web.Request) -> web.Response:
    return answer({"messages": request.app[ACCOUNT_KEY].outbox})


async def _tokens(request: web.Request) -> web.Response:
    tokens = request.app[ACCOUNT_KEY].tokens
    return answer({"issued": tokens.issued, "live": tokens.live()})


async def _rotate(request: web.Request) -> web.Response:
    tokens = request.app[ACCOUNT_KEY].tokens
    tokens.issue()
    return answer({"issued": tokens.issued})


async def _get_quota(request: web.Request) -> web.Response:
    account = request.app[ACCOUNT_KEY]
    return answer({"daily": account.daily_quota, "sent_today": account.sent_today()})


async def _set_quota(request: web.Request) -> web.Response:
    body = await json_body(request)
    daily = body.get("daily") if isinstance(body, dict) else None
    if not isinstance(daily, int) or isinstance(daily, bool) or daily < 0:
        return answer({"error": "daily must be a whole number ≥ 0"}, 400)
    request.app[ACCOUNT_KEY].daily_quota = daily
    return await _get_quota(request)


async def _followers(request: web.Request) -> web.Response:
    body = await json_body(request)
    openid = body.get("openid") if isinstance(body, dict) else None
    following = body.get("follows") if isinstance(body, dict) else None
    if not isinstance(openid, str) or not isinstance(following, bool):
        return answer({"error": "openid (text) and follows (true or false) are required"}, 400)
    request.app[ACCOUNT_KEY].followers[openid] = following
    return answer({"openid": openid, "follows": following})


async def _oauth_code(request: web.Request) -> web.Response:
    """What WeChat does when the person with ``id_number`` opens the service account's page
    and it authorises them: a one-time code for their openid, as the redirect carries it."""
    body = await json_body(request)
    id_number = body.get("id_number") if isinstance(body, dict) else None
    if not isinstance(id_number, str) or request.app[POPULATION_KEY].person(id_number) is None:
        return answer({"error": "id_number of a registry person is required"}, 400)
    account = request.app[ACCOUNT_KEY]
    code = secrets.token_hex(16)
    account.codes[code] = (openid_of(id_number), account.clock.time() + CODE_LIFETIME_S)
    return answer({"code": code, "expires_in": CODE_LIFETIME_S})


async def _reset(request: web.Request) -> web.Response:
    request.app[ACCOUNT_KEY].clear()
    request.app[CLOCK_KEY].offset_s = 0.0
    return answer({"ok": True})


def add_routes(app: web.Application, config: MockConfig) -> None:
    install_population(app, config)
    clock = install_clock(app)
    app[ACCOUNT_KEY] = Account(clock, Tokens(clock))
    app.router.add_get("/cgi-bin/token", token)
    app.router.add_post("/cgi-bin/message/template/send", send)
    app.router.add_get("/sns/oauth2/access_token", oauth_access_token)
    app.router.add_post("/__admin/oauth-code", _oauth_code)
    app.router.add_get("/__admin/outbox", _outbox)
    app.router.add_get("/__admin/tokens", _tokens)
    app.router.add_post("/__admin/tokens/rotate", _rotate)
    app.router.add_get("/__admin/quota", _get_quota)
    app.router.add_post("/__admin/quota", _set_quota)
    app.router.add_post("/__admin/followers", _followers)
    app.router.add_post("/__admin/reset", _reset)
