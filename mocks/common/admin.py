"""The admin surface every mock has and no real department system does.

``GET /__admin/stats``        request counts per endpoint, answers per status, batch sizes,
                              the last request's ``traceparent``
``POST /__admin/stats/reset`` zero the counters
``GET /__admin/faults``       the faults in force
``POST /__admin/faults``      set some or all of: latency_ms, jitter_ms, error_rate, down,
                              slow_body, garbage_body (unnamed keys keep their value)
``DELETE /__admin/faults``    back to no faults

A mock with faults of its own (the SMS gateway's duplicated callbacks) passes a ``Faults``
subclass with more fields to ``install_admin``; the same routes set and clear them.

Endpoints are named ``"METHOD /route/{pattern}"`` so that ``/api/items/电池`` and
``/api/items/纸箱`` count together. Admin calls are neither counted nor faulted.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, fields

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ADMIN_PREFIX = "/__admin/"


@dataclass
class Faults:
    """Faults injected into every non-admin answer of one mock."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    down: bool = False
    slow_body: bool = False
    garbage_body: bool = False

    def update(self, changes: dict[str, object]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown fault {key!r}")
            if known[key] == "bool":
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
                setattr(self, key, value)
            else:
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"{key} must be a non-negative number")
                setattr(self, key, float(value))


@dataclass
class Stats:
    """Counters read by tests and benchmarks to assert how many upstream calls were made."""

    requests: Counter[str]
    responses: Counter[str]
    batch_sizes: defaultdict[str, list[int]]
    last_traceparent: str | None = None
    """The W3C ``traceparent`` of the last request, so tests can see a trace carried on."""

    @classmethod
    def empty(cls) -> Stats:
        return cls(Counter(), Counter(), defaultdict(list))

    def reset(self) -> None:
        self.requests.clear()
        self.responses.clear()
        self.batch_sizes.clear()
        self.last_traceparent = None

    def as_json(self) -> dict[str, object]:
        return {
            "total": sum(self.requests.values()),
            "requests": dict(self.requests),
            "responses": dict(self.responses),
            "batch_sizes": dict(self.batch_sizes),
            "last_traceparent": self.last_traceparent,
        }


STATS_KEY = web.AppKey("admin_stats", Stats)
FAULTS_KEY = web.AppKey("admin_faults", Faults)
RANDOM_KEY = web.AppKey("admin_random", random.Random)


def endpoint_name(request: web.Request) -> str:
    """``"GET /api/items/{name}"``: the route pattern, not the concrete path."""
    resource = request.match_info.route.resource
    path = resource.canonical if resource is not None else request.path
    return f"{request.method} {path}"


def record_batch(request: web.Request, size: int) -> None:
    """Called by a mock's batch handlers so tests can assert batch sizes."""
    request.app[STATS_KEY].batch_sizes[endpoint_name(request)].append(size)


@web.middleware
async def admin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    app = request.app
    stats, faults, rng = app[STATS_KEY], app[FAULTS_KEY], app[RANDOM_KEY]
    name = endpoint_name(request)
    stats.requests[name] += 1
    stats.last_traceparent = request.headers.get("traceparent")

    if faults.latency_ms or faults.jitter_ms:
        delay = faults.latency_ms + rng.uniform(-faults.jitter_ms, faults.jitter_ms)
        await asyncio.sleep(max(delay, 0.0) / 1000)
    if faults.down:
        stats.responses[f"{name} 503"] += 1
        return web.Response(status=503, text="Service Unavailable")
    if faults.error_rate and rng.random() < faults.error_rate:
        stats.responses[f"{name} 500"] += 1
        return web.Response(status=500, text="Internal Server Error")

    response = await handler(request)
    stats.responses[f"{name} {response.status}"] += 1
    if isinstance(response, web.Response) and response.body is not None:
        body = bytes(response.body)  # type: ignore[arg-type]
        if faults.garbage_body and body:
            response.body = body[: max(len(body) // 2, 1)] + b"\x00{"
        elif faults.slow_body and body:
            return await _drip(request, response, body)
    return response


async def _drip(request: web.Request, response: web.Response, body: bytes) -> web.StreamResponse:
    """Send the headers at once and the body a few bytes every 200 ms."""
    slow = web.StreamResponse(status=response.status, headers=response.headers)
    slow.content_length = len(body)
    await slow.prepare(request)
    for start in range(0, len(body), 16):
        await slow.write(body[start : start + 16])
        await asyncio.sleep(0.2)
    await slow.write_eof()
    return slow


async def _get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATS_KEY].as_json())


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[STATS_KEY].reset()
    return web.json_response({"ok": True})


async def _get_faults(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[FAULTS_KEY]))


async def _set_faults(request: web.Request) -> web.Response:
    try:
        changes = await request.json()
        if not isinstance(changes, dict):
            raise ValueError("body must be a JSON object")
        request.app[FAULTS_KEY].update(changes)
    except (ValueError, json.JSONDecodeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(asdict(request.app[FAULTS_KEY]))


async def _clear_faults(request: web.Request) -> web.Response:
    faults = request.app[FAULTS_KEY]
    faults.update(asdict(type(faults)()))
    return web.json_response(asdict(faults))


def install_admin(app: web.Application, *, seed: int, faults: Faults | None = None) -> None:
    """Add the admin routes, counters and fault injection to a mock application.

    Call it before adding the mock's own routes; ``app.middlewares`` must not be frozen yet.
    ``faults``: a ``Faults`` subclass instance for a mock with faults of its own.
    """
    app[STATS_KEY] = Stats.empty()
    app[FAULTS_KEY] = faults if faults is not None else Faults()
    app[RANDOM_KEY] = random.Random(seed)
    app.middlewares.append(admin_middleware)
    app.router.add_get("/__admin/stats", _get_stats)
    app.router.add_post("/__admin/stats/reset", _reset_stats)
    app.router.add_get("/__admin/faults", _get_faults)
    app.router.add_post("/__admin/faults", _set_faults)
    app.router.add_delete("/__admin/faults", _clear_faults)
