"""One token bucket per caller for all replicas: a Lua script in Redis takes the token.

The bucket is refilled and taken from in one atomic script (``scripts.BUCKET``) on the
Redis server's clock, so concurrent requests on several replicas never both take the last
token. While Redis is unreachable each replica falls back to its own in-process buckets.
"""

from __future__ import annotations

from connectors.shared import SharedUnavailable
from hub.security.ratelimit import BucketPolicy, Decision, RateLimiter, decision
from hub.shared.backend import RedisState


class SharedRateLimiter:
    """``RateLimiter`` over ``RedisState``; ``fallback`` while Redis cannot be reached."""

    def __init__(self, state: RedisState, fallback: RateLimiter) -> None:
        self._state = state
        self._fallback = fallback

    async def take(self, key: str, policy: BucketPolicy) -> Decision:
        name = f"ratelimit:{policy.name}:{key}"
        try:
            allowed, tokens = await self._state.token_bucket(
                name, policy.capacity, policy.per_second
            )
        except SharedUnavailable:
            return await self._fallback.take(key, policy)
        return decision(policy, allowed, tokens)
