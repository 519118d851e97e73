"""The population registry (公安 户籍人口库) behind the data-sharing exchange.

``POST /exchange/v1/person/query`` ``{"id_numbers": [...]}`` (≤ 100) → ``{"persons": [...]}``;
``POST /exchange/v1/household/query`` ``{"household_ids": [...]}`` (≤ 100) →
``{"households": [{"household_id", "members": [...]}]}``; ``POST /exchange/v1/person/export``:
everyone born in a window, page by page (``mocks.population.export``). Dates ``yyyyMMdd``, sex
``1``/``2``; unknown ids are missing from the answer. Refusals are ``{"code": "E_…", "message"}``.

Admin (the mock's, not the exchange's): ``GET|DELETE /__admin/exchange-log`` (every call with
app, purpose, path, status and how many ids it asked; ``?purpose=`` filters),
``GET|POST /__admin/maintenance`` ``{"window": "02:00-02:30" | null}`` (Shanghai time; none by
default), ``GET|POST /__admin/rate-limit`` ``{"per_second": 30}`` per app, ``GET /__admin/cases``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mocks.common.admin import Handler, record_batch
from mocks.common.gov import (
    POPULATION_KEY,
    CallLimit,
    answer,
    install_limit,
    install_population,
)
from mocks.common.launcher import MockConfig
from mocks.common.population import Person, Population
from mocks.population.exchange import (
    CallLog,
    Maintenance,
    Nonces,
    Refusal,
    check_purpose,
    check_signature,
)
from mocks.population.export import add_export

MAX_IDS = 100
PER_SECOND = 30
LOG_KEY = web.AppKey("exchange_log", CallLog)
MAINTENANCE_KEY = web.AppKey("maintenance", Maintenance)
NONCES_KEY = web.AppKey("nonces", Nonces)
GATE_KEY = web.AppKey("gate_limit", CallLimit)
ASKED = web.RequestKey("asked", int)


def _refused(refusal: Refusal) -> web.Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    body = {"code": refusal.code, "message": refusal.message}
    return answer(body, refusal.status, headers)


@web.middleware
async def exchange_gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Maintenance, signature, nonce, purpose, quota — then the registry; every call logged."""
    if not request.path.startswith("/exchange/"):
        return await handler(request)
    app = request.app
    body = await request.read()
    entry: dict[str, Any] = {
        "app": request.headers.get("X-Exchange-App"),
        "purpose": request.headers.get("X-Exchange-Purpose"),
        "method": request.method,
        "path": request.path,
    }
    try:
        left = app[MAINTENANCE_KEY].seconds_left()
        if left is not None:
            raise Refusal(503, "E_MAINTENANCE", "nightly maintenance", retry_after=left)
        check_signature(request.headers, request.method, request.path, body, app[NONCES_KEY])
        entry["purpose"] = check_purpose(request.headers)
        if not app[GATE_KEY].allow(entry["app"]):
            raise Refusal(429, "E_RATE_LIMIT", "more than the app's calls per second", 1)
        response = await handler(request)
    except Refusal as refusal:
        response = _refused(refusal)
    entry["status"] = response.status
    entry["ids"] = request.get(ASKED, 0)
    app[LOG_KEY].add(**entry)
    return response


def _date(day: Any) -> str:
    return f"{day:%Y%m%d}"


def person_view(person: Person) -> dict[str, Any]:
    return {
        "id_number": person.id_number,
        "name": person.name,
        "birth_date": _date(person.birth_date),
        "sex": person.sex,
        "hukou_district": person.hukou_district,
        "hukou_since": _date(person.hukou_since),
        "hukou_type": person.hukou_type,
        "alive": person.alive,
        "household_id": person.household_id,
        "mobile": person.mobile,
    }


async def _ids(request: web.Request, key: str) -> list[str]:
    try:
        payload = await request.json()
    except ValueError:
        raise Refusal(400, "E_BAD_REQUEST", "body must be JSON") from None
    ids = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
        raise Refusal(400, "E_BAD_REQUEST", f"{key} must be a non-empty list of strings")
    if len(ids) > MAX_IDS:
        raise Refusal(400, "E_TOO_MANY", f"at most {MAX_IDS} {key} per call")
    request[ASKED] = len(ids)
    record_batch(request, len(ids))
    return list(dict.fromkeys(ids))


async def person_query(request: web.Request) -> web.Response:
    population: Population = request.app[POPULATION_KEY]
    ids = await _ids(request, "id_numbers")
    found = [p for p in map(population.person, ids) if p is not None]
    return answer({"persons": [person_view(p) for p in found]})


async def household_query(request: web.Request) -> web.Response:
    population: Population = request.app[POPULATION_KEY]
    households = []
    for household_id in await _ids(request, "household_ids"):
        members = population.household(household_id)
        if members is None:
            continue
        households.append(
            {
                "household_id": household_id,
                "members": [
                    {
                        "id_number": m.id_number,
                        "name": m.name,
                        "relation": m.relation,
                        "birth_date": _date(m.birth_date),
                        "alive": m.alive,
                    }
                    for m in members
                ],
            }
        )
    return answer({"households": households})


async def _get_log(request: web.Request) -> web.Response:
    purpose = request.query.get("purpose")
    entries = [e for e in request.app[LOG_KEY].entries if purpose in (None, e["purpose"])]
    return answer({"entries": entries})


async def _clear_log(request: web.Request) -> web.Response:
    request.app[LOG_KEY].entries.clear()
    return answer({"ok": True})


async def _get_maintenance(request: web.Request) -> web.Response:
    return answer({"window": request.app[MAINTENANCE_KEY].text()})


async def _set_maintenance(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
        if not isinstance(payload, dict) or "window" not in payload:
            raise ValueError('body must be {"window": "HH:MM-HH:MM" | null}')
        request.app[MAINTENANCE_KEY].set(payload["window"])
    except ValueError as exc:
        return answer({"error": str(exc)}, 400)
    return answer({"window": request.app[MAINTENANCE_KEY].text()})


def add_routes(app: web.Application, config: MockConfig) -> None:
    install_population(app, config)
    add_export(app, config.seed)
    app[GATE_KEY] = install_limit(app, PER_SECOND)
    app[LOG_KEY] = CallLog()
    app[MAINTENANCE_KEY] = Maintenance()
    app[NONCES_KEY] = Nonces()
    app.middlewares.append(exchange_gate)
    app.router.add_post("/exchange/v1/person/query", person_query)
    app.router.add_post("/exchange/v1/household/query", household_query)
    app.router.add_get("/__admin/exchange-log", _get_log)
    app.router.add_delete("/__admin/exchange-log", _clear_log)
    app.router.add_get("/__admin/maintenance", _get_maintenance)
    app.router.add_post("/__admin/maintenance", _set_maintenance)
