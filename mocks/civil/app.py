"""HTTP surface of the civil-affairs (民政) allowance ledger, v2.

``POST /auth/token`` (form: ``grant_type=client_credentials``, ``client_id``,
``client_secret``) → ``{"access_token", "token_type": "Bearer", "expires_in": 7200}``; every
``/civil/`` call needs ``Authorization: Bearer …`` (else ``401 invalid_token``).

- ``GET /civil/v2/allowances?id_number=`` → ``{"id_number", "entitlements": [{entitlement_id,
  allowance_code, since "yyyy-MM", amount_fen "20000", status ACTIVE|SUSPENDED|ENDED}]}``
- ``POST /civil/v2/allowances`` → ``201 {"entitlement_id", "status"}``; ``409
  ALREADY_ENTITLED``; the same ``request_id`` answers the first answer again
- ``GET /civil/v2/care-assessments?id_number=`` → ``{"id_number", "assessment": {"level",
  "assessed_on"} | null}``

Admin: ``POST /__admin/tokens/revoke`` (every issued token stops working: the hub must fetch
a new one), ``GET /__admin/tokens`` (how many were issued), ``GET /__admin/cases``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field

from aiohttp import web

from mocks.civil.ledger import Ledger, LedgerError
from mocks.common.admin import Handler
from mocks.common.facts import care_assessment
from mocks.common.gov import POPULATION_KEY, answer, install_population, json_body
from mocks.common.launcher import MockConfig

CLIENTS = {"ihub-luohu": "dev-civil-secret"}
TOKEN_LIFETIME_S = 7200


@dataclass
class Tokens:
    live: dict[str, float] = field(default_factory=dict)
    issued: int = 0

    def issue(self) -> str:
        token = secrets.token_urlsafe(24)
        self.live[token] = time.time() + TOKEN_LIFETIME_S
        self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        return self.live.get(token, 0.0) > time.time()


TOKENS_KEY = web.AppKey("tokens", Tokens)
LEDGER_KEY = web.AppKey("ledger", Ledger)


def _error(status: int, code: str, message: str) -> web.Response:
    return answer({"error": {"code": code, "message": message}}, status)


@web.middleware
async def bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/civil/"):
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else ""
        if not request.app[TOKENS_KEY].valid(token):
            return _error(401, "invalid_token", "missing, expired or revoked token")
    return await handler(request)


async def token(request: web.Request) -> web.Response:
    form = await request.post()
    if form.get("grant_type") != "client_credentials":
        return _error(400, "unsupported_grant_type", "grant_type must be client_credentials")
    client_id, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    if CLIENTS.get(client_id) != secret or not secret:
        return _error(401, "invalid_client", "unknown client or wrong secret")
    value = request.app[TOKENS_KEY].issue()
    return answer({"access_token": value, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S})


def _id_number(request: web.Request) -> str | None:
    value = request.query.get("id_number", "").strip()
    return value if len(value) == 18 else None


async def allowances(request: web.Request) -> web.Response:
    id_number = _id_number(request)
    if id_number is None:
        return _error(400, "BAD_REQUEST", "id_number must be an 18-character ID number")
    entries = request.app[LEDGER_KEY].entitlements(id_number)
    return answer({"id_number": id_number, "entitlements": entries})


async def grant(request: web.Request) -> web.Response:
    body = await json_body(request)
    try:
        status, payload = request.app[LEDGER_KEY].write(body)
    except LedgerError as exc:
        return answer(exc.body, exc.status)
    return answer(payload, status)


async def care_assessments(request: web.Request) -> web.Response:
    id_number = _id_number(request)
    if id_number is None:
        return _error(400, "BAD_REQUEST", "id_number must be an 18-character ID number")
    population = request.app[POPULATION_KEY]
    person = population.person(id_number)
    found = care_assessment(population, person) if person else None
    assessment = {"level": found[0], "assessed_on": found[1].isoformat()} if found else None
    return answer({"id_number": id_number, "assessment": assessment})


async def _revoke(request: web.Request) -> web.Response:
    request.app[TOKENS_KEY].live.clear()
    return answer({"ok": True})


async def _tokens(request: web.Request) -> web.Response:
    tokens = request.app[TOKENS_KEY]
    return answer({"issued": tokens.issued, "live": len(tokens.live)})


def add_routes(app: web.Application, config: MockConfig) -> None:
    population = install_population(app, config)
    app[TOKENS_KEY] = Tokens()
    app[LEDGER_KEY] = Ledger(population)
    app.middlewares.append(bearer)
    app.router.add_post("/auth/token", token)
    app.router.add_get("/civil/v2/allowances", allowances)
    app.router.add_post("/civil/v2/allowances", grant)
    app.router.add_get("/civil/v2/care-assessments", care_assessments)
    app.router.add_post("/__admin/tokens/revoke", _revoke)
    app.router.add_get("/__admin/tokens", _tokens)
