"""The state several hub replicas share, in Redis when ``HUB_REDIS_URL`` is set.

``backend.RedisState`` implements ``connectors.shared`` (store, leases, per-app quotas) and
the rate limiter's bucket; ``ratelimit.SharedRateLimiter`` is the ``RateLimiter`` on top.
Unset, the hub keeps everything in its process (``connectors.shared.InProcessLeases`` for
leases), exactly as one replica always has.
"""
