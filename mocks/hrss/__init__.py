"""Imitation of 人社 (human resources and social security, departments-gov.md §4).

``GET /hrss/api/insured?idNo=`` and ``GET /hrss/api/retirement?idNo=`` with ``X-Api-Key``.
Every answer is HTTP 200 in 人社's envelope ``{"code": "0000", "msg": "成功", "data": {…}}``;
business errors are codes in the envelope: ``1001`` bad ``idNo``, ``1004`` no record,
``4010`` bad key (HTTP 401). Fields are camelCase, dates ``yyyy-MM-dd``, the pension in fen.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import Handler, install_admin
from mocks.common.facts import insurance, retirement
from mocks.common.gov import POPULATION_KEY, answer, install_population
from mocks.common.launcher import MockConfig
from mocks.common.population import Person

__all__ = ["API_KEY", "create_app"]

API_KEY = "dev-hrss-key"


def _envelope(code: str, msg: str, data: object = None, status: int = 200) -> web.Response:
    return answer({"code": code, "msg": msg, "data": data}, status)


@web.middleware
async def api_key(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/hrss/") and request.headers.get("X-Api-Key") != API_KEY:
        return _envelope("4010", "接口密钥无效", status=401)
    return await handler(request)


def _person(request: web.Request) -> Person | web.Response:
    id_no = request.query.get("idNo", "").strip().upper()
    if len(id_no) != 18:
        return _envelope("1001", "证件号码格式错误")
    person = request.app[POPULATION_KEY].person(id_no)
    if person is None:
        return _envelope("1004", "未查询到参保信息")
    return person


async def insured(request: web.Request) -> web.Response:
    person = _person(request)
    if isinstance(person, web.Response):
        return person
    record = insurance(request.app[POPULATION_KEY], person)
    if record is None:
        return _envelope("1004", "未查询到参保信息")
    return _envelope("0000", "成功", {"idNo": person.id_number, "name": person.name, **record})


async def retired(request: web.Request) -> web.Response:
    person = _person(request)
    if isinstance(person, web.Response):
        return person
    record = retirement(request.app[POPULATION_KEY], person)
    return _envelope("0000", "成功", {"idNo": person.id_number, **record})


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    install_admin(app, seed=config.seed)
    install_population(app, config)
    app.middlewares.append(api_key)
    app.router.add_get("/hrss/api/insured", insured)
    app.router.add_get("/hrss/api/retirement", retired)
    return app
