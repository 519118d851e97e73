"""Rate limits per principal: a token bucket per resident, partner, or client IP.

``RateLimiter`` is the seam: ``InProcessRateLimiter`` keeps the buckets in this process (one
replica); ``hub.shared.ratelimit.SharedRateLimiter`` keeps one bucket per caller in Redis for
every replica (``HUB_REDIS_URL``). Answers
carry the IETF ``RateLimit-Policy`` / ``RateLimit`` fields, and ``429`` adds ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cachetools import LRUCache

from schema.context import CallerKind, Principal


@dataclass(frozen=True)
class BucketPolicy:
    """``capacity`` requests at once, refilled at ``per_second``."""

    name: str
    capacity: int
    per_second: float

    @property
    def window_s(self) -> int:
        """The time a full bucket takes to refill: the policy's window."""
        return max(1, math.ceil(self.capacity / self.per_second))

    @classmethod
    def parse(cls, name: str, text: str) -> BucketPolicy:
        """``"120/2"``: a burst of 120, refilled at 2 a second."""
        capacity, _, rate = text.partition("/")
        policy = cls(name, int(capacity), float(rate))
        if policy.capacity < 1 or policy.per_second <= 0:
            raise ValueError(f"rate limit {text!r}: capacity ≥ 1 and a positive rate")
        return policy


# Anonymous callers only read public data, which the hub caches, and one IP is often many
# people (a carrier-grade NAT, the app's own gateway): 1000 at once and 20 a second per IP
# (1200 a minute) keeps a single abusive client in check without refusing a crowd; admission
# control (hub.web.admission) protects the process as a whole. Residents and partners are one
# principal each, so their buckets are per person / per bank system.
DEFAULT_POLICIES: Mapping[CallerKind, BucketPolicy] = {
    CallerKind.ANONYMOUS: BucketPolicy("anonymous", 1000, 20.0),
    CallerKind.RESIDENT: BucketPolicy("resident", 120, 2.0),
    CallerKind.PARTNER: BucketPolicy("partner", 600, 10.0),
}


CONSENT_REDEEM_ATTEMPTS = BucketPolicy("consent-redeem", 10, 1 / 120)
"""Consent codes a partner may try: 10 at once, then one every two minutes. A 6-digit code
lives 15 minutes at most, so a guesser gets about 18 of a million tries at one."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    policy: BucketPolicy
    remaining: int
    reset_s: int
    retry_after_s: int

    def headers(self) -> dict[str, str]:
        p = self.policy
        return {
            "RateLimit-Policy": f'"{p.name}";q={p.capacity};w={p.window_s}',
            "RateLimit": f'"{p.name}";r={self.remaining};t={self.reset_s}',
        }


class RateLimiter(Protocol):
    async def take(self, key: str, policy: BucketPolicy) -> Decision: ...


@dataclass
class _Bucket:
    tokens: float
    at: float


class InProcessRateLimiter:
    """Token buckets in a bounded LRU (idle buckets are full anyway, so forgetting is safe)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, size: int = 100_000) -> None:
        self._clock = clock
        self._buckets: LRUCache[str, _Bucket] = LRUCache(size)

    async def take(self, key: str, policy: BucketPolicy) -> Decision:
        now = self._clock()
        bucket = self._buckets.get(key) or _Bucket(float(policy.capacity), now)
        tokens = min(policy.capacity, bucket.tokens + (now - bucket.at) * policy.per_second)
        allowed = tokens >= 1
        if allowed:
            tokens -= 1
        self._buckets[key] = _Bucket(tokens, now)
        return decision(policy, allowed, tokens)


def decision(policy: BucketPolicy, allowed: bool, tokens: float) -> Decision:
    """The answer of a bucket that has ``tokens`` left after this request took one (or not)."""
    missing = policy.capacity - tokens
    return Decision(
        allowed=allowed,
        policy=policy,
        remaining=int(tokens),
        reset_s=math.ceil(missing / policy.per_second),
        retry_after_s=0 if allowed else math.ceil((1 - tokens) / policy.per_second),
    )


def bucket_key(principal: Principal, client_ip: str | None) -> str:
    if principal.kind is CallerKind.RESIDENT:
        return f"resident:{principal.resident_id}"
    if principal.kind is CallerKind.PARTNER:
        return f"partner:{principal.partner_id}"
    return f"ip:{client_ip or 'unknown'}"


class RedemptionLimiter:
    """``schema.context.RedemptionAttempts`` on a ``RateLimiter`` (shared by the replicas when
    it is ``hub.shared.ratelimit.SharedRateLimiter``): one bucket per partner."""

    def __init__(self, limiter: RateLimiter, policy: BucketPolicy) -> None:
        self._limiter = limiter
        self._policy = policy

    async def take(self, partner_id: str) -> bool:
        decided = await self._limiter.take(f"{self._policy.name}:{partner_id}", self._policy)
        return decided.allowed
