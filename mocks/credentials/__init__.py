"""Imitation of the credential verification service (学信网-style, departments-gov.md §4).

``POST /verify`` ``{"cert_no", "name"}`` with ``X-Api-Key`` → ``{"valid": true, "school",
"degree": 本科|硕士|博士|大专, "major", "graduation_date" "yyyy-MM-dd", "full_time"}`` when the
certificate exists and is held under that name; otherwise ``{"valid": false}`` and nothing else
(a wrong name and an unknown number look the same). 5 calls a second per key, then ``429``
with ``Retry-After: 1`` (``POST /__admin/rate-limit`` changes it). Certificates:
``mocks.common.facts.degree``; cases at ``GET /__admin/cases``.
"""

from __future__ import annotations

from aiohttp import web

from mocks.common.admin import Handler, install_admin
from mocks.common.facts import certificate
from mocks.common.gov import (
    LIMIT_KEY,
    POPULATION_KEY,
    answer,
    install_limit,
    install_population,
    json_body,
)
from mocks.common.launcher import MockConfig

__all__ = ["API_KEY", "create_app"]

API_KEY = "dev-credentials-key"
PER_SECOND = 5


@web.middleware
async def gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/__admin/"):
        return await handler(request)
    key = request.headers.get("X-Api-Key", "")
    if key != API_KEY:
        return answer({"error": "unauthorized"}, 401)
    if not request.app[LIMIT_KEY].allow(key):
        return answer({"error": "too_many_requests"}, 429, {"Retry-After": "1"})
    return await handler(request)


async def verify(request: web.Request) -> web.Response:
    body = await json_body(request)
    cert_no = body.get("cert_no") if isinstance(body, dict) else None
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(cert_no, str) or not isinstance(name, str) or not cert_no or not name:
        return answer({"error": "cert_no and name are required"}, 400)
    found = certificate(request.app[POPULATION_KEY], cert_no.strip())
    if found is None or found.holder_name != name.strip():
        return answer({"valid": False})
    return answer(
        {
            "valid": True,
            "cert_no": found.cert_no,
            "school": found.school,
            "degree": found.degree,
            "major": found.major,
            "graduation_date": found.graduation_date.isoformat(),
            "full_time": found.full_time,
        }
    )


def create_app(config: MockConfig) -> web.Application:
    app = web.Application()
    install_admin(app, seed=config.seed)
    install_population(app, config)
    install_limit(app, PER_SECOND)
    app.middlewares.append(gate)
    app.router.add_post("/verify", verify)
    return app
