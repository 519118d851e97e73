"""The youth-center mock application: admin surface, guard, the center's calls.

Besides the shared admin routes (``mocks.common.admin``) this mock has two of its own:

``GET|POST /__admin/clock``       ``{"offset_seconds": N}`` shifts the mock's now (absolute, not
                                  cumulative); deadlines, draws and statuses follow lazily
``GET|POST /__admin/rate-limit``  ``{"per_second": N}`` calls per second per key (default 20)
"""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web

from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig
from mocks.youth.answers import answer
from mocks.youth.clock import MockClock, iso
from mocks.youth.guard import guard_middleware
from mocks.youth.handlers import add_routes
from mocks.youth.idempotency import IdempotencyStore
from mocks.youth.ratelimit import RateLimiter
from mocks.youth.seed import build_enrollment
from mocks.youth.state import STATE_KEY, YouthState


def create_app(config: MockConfig) -> web.Application:
    """A fresh center: seeded data as of now in Shanghai, no faults, default limit."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    clock = MockClock()
    started = clock.now()
    engine = build_enrollment(config.seed, started.date(), started)
    app[STATE_KEY] = YouthState(engine, clock, RateLimiter(), IdempotencyStore())
    app.middlewares.append(guard_middleware)
    app.router.add_get("/__admin/clock", _get_clock)
    app.router.add_post("/__admin/clock", _set_clock)
    app.router.add_get("/__admin/rate-limit", _get_rate_limit)
    app.router.add_post("/__admin/rate-limit", _set_rate_limit)
    add_routes(app)
    return app


async def _number(request: web.Request, name: str) -> float | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    return float(value)


def _clock_view(clock: MockClock) -> web.Response:
    return answer({"offset_seconds": clock.offset.total_seconds(), "now": iso(clock.now())})


async def _get_clock(request: web.Request) -> web.Response:
    return _clock_view(request.app[STATE_KEY].clock)


async def _set_clock(request: web.Request) -> web.Response:
    offset = await _number(request, "offset_seconds")
    if offset is None:
        return answer({"error": "offset_seconds must be a number"}, 400)
    clock = request.app[STATE_KEY].clock
    clock.offset = timedelta(seconds=offset)
    return _clock_view(clock)


async def _get_rate_limit(request: web.Request) -> web.Response:
    return answer({"per_second": request.app[STATE_KEY].limiter.per_second})


async def _set_rate_limit(request: web.Request) -> web.Response:
    per_second = await _number(request, "per_second")
    if per_second is None or per_second < 1 or per_second != int(per_second):
        return answer({"error": "per_second must be a positive integer"}, 400)
    request.app[STATE_KEY].limiter.per_second = int(per_second)
    return answer({"per_second": int(per_second)})
