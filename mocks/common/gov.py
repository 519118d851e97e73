"""What the government-system mocks share: JSON answers, a per-key call limit, their clock,
and ``GET /__admin/cases`` (the population's boundary cases, ``mocks.common.facts``)."""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web

from mocks.common.facts import cases_view
from mocks.common.launcher import MockConfig
from mocks.common.population import Population

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
POPULATION_KEY = web.AppKey("population", Population)


def answer(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


async def json_body(request: web.Request) -> Any:
    """The request's JSON, or ``None`` when it is not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None


class CallLimit:
    """At most ``per_second`` accepted calls per key in any one-second window (monotonic).

    Refused calls do not count, so a client that waits the ``Retry-After`` second gets through.
    """

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}

    def forget(self) -> None:
        """Start every key's window afresh (a new limit set from the admin API)."""
        self._calls.clear()

    def allow(self, key: str) -> bool:
        now = self._clock()
        calls = self._calls.setdefault(key, deque())
        while calls and calls[0] <= now - 1.0:
            calls.popleft()
        if len(calls) >= self.per_second:
            return False
        calls.append(now)
        return True


LIMIT_KEY = web.AppKey("call_limit", CallLimit)


async def _cases(request: web.Request) -> web.Response:
    return answer(cases_view(request.app[POPULATION_KEY]))


async def _get_limit(request: web.Request) -> web.Response:
    return answer({"per_second": request.app[LIMIT_KEY].per_second})


async def _set_limit(request: web.Request) -> web.Response:
    body = await json_body(request)
    value = body.get("per_second") if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        return answer({"error": "per_second must be a positive integer"}, 400)
    request.app[LIMIT_KEY].per_second = value
    request.app[LIMIT_KEY].forget()
    return answer({"per_second": value})


def install_population(app: web.Application, config: MockConfig) -> Population:
    """The shared population and ``GET /__admin/cases``."""
    population = Population(config.population, seed=config.seed, as_of=config.as_of)
    app[POPULATION_KEY] = population
    app.router.add_get("/__admin/cases", _cases)
    return population


def install_limit(app: web.Application, per_second: int) -> CallLimit:
    """A call limit and ``GET|POST /__admin/rate-limit`` ``{"per_second": N}`` (setting it
    also forgets the calls counted so far)."""
    limit = CallLimit(per_second)
    app[LIMIT_KEY] = limit
    app.router.add_get("/__admin/rate-limit", _get_limit)
    app.router.add_post("/__admin/rate-limit", _set_limit)
    return limit


def shanghai_now() -> datetime:
    return datetime.now(SHANGHAI)
