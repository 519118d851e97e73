"""What one youth-center mock instance holds, under a single application key."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from mocks.youth.clock import MockClock
from mocks.youth.enrollment import Enrollment
from mocks.youth.idempotency import IdempotencyStore
from mocks.youth.ratelimit import RateLimiter


@dataclass
class YouthState:
    """The data, the adjustable clock, the call limit and the remembered write answers."""

    engine: Enrollment
    clock: MockClock
    limiter: RateLimiter
    replies: IdempotencyStore


STATE_KEY = web.AppKey("youth_state", YouthState)
