"""``RedisState``: ``HUB_REDIS_URL``'s Redis as the store, leases and quotas of every replica.

One per app, implementing ``connectors.shared``'s ``SharedStore``, ``Lease`` and ``AppQuota``
plus the rate limiter's token bucket, all under ``prefix`` (``HUB_REDIS_PREFIX``). The client
(``redis.asyncio``) is made on first use, inside the app's event loop, and closed by the
lifespan.

Unreachable Redis: the failing operation raises ``SharedUnavailable`` after a short timeout;
for ``retry_after_s`` after that every operation raises it at once, without a round trip, then
one is tried again. Each refused operation is counted (``on_unavailable``, the
``ihub_shared_state_unavailable`` metric); a warning is logged when Redis goes away and again
when it is back, not once per request. The callers degrade to per-process behaviour.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from connectors.shared import Shared, SharedUnavailable
from hub.shared import scripts

T = TypeVar("T")
logger = logging.getLogger("ihub.shared")


class RedisState:
    """The replicas' shared state in Redis, degrading to ``SharedUnavailable`` when it is gone."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "ihub:",
        timeout_s: float = 0.5,
        retry_after_s: float = 2.0,
        on_unavailable: Callable[[str], None] = lambda operation: None,
        on_state: Callable[[bool], None] = lambda up: None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This replica's name in leases and quota slots."""
        self._timeout_s = timeout_s
        self._retry_after_s = retry_after_s
        self._on_unavailable = on_unavailable
        self._on_state = on_state
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._down_until = 0.0
        self._up = True

    def shared(self) -> Shared:
        """What connectors are given."""
        return Shared(store=self, leases=self, quota=self, owner=self.owner)

    @property
    def up(self) -> bool:
        """Whether the last operation reached Redis."""
        return self._up

    async def reachable(self) -> bool:
        """Whether Redis answers a ``PING`` now (for ``/readyz`` and ``/status``)."""

        async def ping(client: Redis) -> bool:
            return bool(await client.ping())

        try:
            return await self._run("ping", ping)
        except SharedUnavailable:
            return False

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _redis(self) -> Redis:
        if self._client is None:
            self._client = Redis.from_url(
                self.url,
                socket_timeout=self._timeout_s,
                socket_connect_timeout=self._timeout_s,
                # one quick retry covers a pooled connection the server closed; no more
                retry=Retry(NoBackoff(), 1),
            )
        return self._client

    async def _run(self, operation: str, call: Callable[[Redis], Awaitable[T]]) -> T:
        if time.monotonic() < self._down_until:
            self._on_unavailable(operation)
            raise SharedUnavailable(operation)
        try:
            result = await asyncio.wait_for(call(self._redis()), self._timeout_s * 4)
        except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
            self._down_until = time.monotonic() + self._retry_after_s
            self._on_unavailable(operation)
            if self._up:
                self._up = False
                self._on_state(False)
                logger.warning(
                    "shared state unreachable (%s on %s): each replica keeps its own rate "
                    "limits, caches, quotas and leases until Redis answers again",
                    type(exc).__name__,
                    operation,
                )
            raise SharedUnavailable(operation) from exc
        except RedisError as exc:
            # Redis answered, with an error (a key of another type, a script refused): this
            # operation falls back, the others go on using Redis
            self._on_unavailable(operation)
            logger.warning("shared state refused %s: %s", operation, exc)
            raise SharedUnavailable(operation) from exc
        if not self._up:
            self._up = True
            self._on_state(True)
            logger.warning("shared state reachable again: limits and caches are shared")
        return result

    async def _script(self, operation: str, source: str, keys: Sequence[str], *args: Any) -> Any:
        async def run(client: Redis) -> Any:
            script = self._scripts.get(source)
            if script is None:  # EVALSHA, loading the script once when Redis does not know it
                script = self._scripts[source] = client.register_script(source)
            return await script(keys=list(keys), args=list(args))

        return await self._run(operation, run)

    def _key(self, key: str) -> str:
        return self.prefix + key

    # -- SharedStore ------------------------------------------------------------------------

    async def publish(self, channel: str, message: bytes) -> int:
        """``PUBLISH`` ``message`` on ``channel`` (under the prefix); how many heard it."""

        async def send(client: Redis) -> int:
            return int(await client.publish(self._key(channel), message))

        return await self._run("publish", send)

    async def messages(self, channel: str) -> AsyncIterator[bytes]:
        """What is published on ``channel`` from now on; raises when Redis goes away."""
        async with self._redis().pubsub() as pubsub:
            await pubsub.subscribe(self._key(channel))
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
                if message is not None and isinstance(message.get("data"), bytes):
                    yield message["data"]

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        names = [self._key(key) for key in keys]

        async def mget(client: Redis) -> list[bytes | None]:
            return [
                v if isinstance(v, bytes | None) else v.encode() for v in await client.mget(names)
            ]

        return await self._run("get", mget)

    async def put(self, key: str, value: bytes, ttl_s: float) -> None:
        milliseconds = max(int(ttl_s * 1000), 1)

        async def put(client: Redis) -> None:
            await client.set(self._key(key), value, px=milliseconds)

        await self._run("put", put)

    async def bump(self, key: str) -> int:
        async def incr(client: Redis) -> int:
            return int(await client.incr(self._key(key)))

        return await self._run("bump", incr)

    # -- Lease ------------------------------------------------------------------------------

    async def acquire(self, name: str, owner: str, ttl_s: float) -> bool:
        milliseconds = max(int(ttl_s * 1000), 1)

        async def set_nx(client: Redis) -> bool:
            return bool(await client.set(self._key(name), owner, nx=True, px=milliseconds))

        return await self._run("lease", set_nx)

    async def renew(self, name: str, owner: str, ttl_s: float) -> bool:
        milliseconds = max(int(ttl_s * 1000), 1)
        renewed = await self._script("lease", scripts.RENEW, [self._key(name)], owner, milliseconds)
        return bool(renewed)

    async def release(self, name: str, owner: str) -> bool:
        return bool(await self._script("lease", scripts.RELEASE, [self._key(name)], owner))

    # -- AppQuota ---------------------------------------------------------------------------

    async def enter(self, name: str, holder: str, limit: int, ttl_s: float) -> bool:
        milliseconds = max(int(ttl_s * 1000), 1)
        keys = [self._key(name)]
        return bool(await self._script("quota", scripts.ENTER, keys, holder, limit, milliseconds))

    async def leave(self, name: str, holder: str) -> None:
        async def zrem(client: Redis) -> None:
            await client.zrem(self._key(name), holder)

        await self._run("quota", zrem)

    async def take(self, name: str, limit: int, window_s: float, member: str) -> float:
        keys, window_ms = [self._key(name)], repr(window_s * 1000)
        wait_ms = await self._script("quota", scripts.TAKE_CALL, keys, limit, member, window_ms)
        return float(wait_ms) / 1000

    async def settle(self, name: str, member: str) -> None:
        await self._script("quota", scripts.SETTLE_CALL, [self._key(name)], member)

    # -- the rate limiter's bucket ----------------------------------------------------------

    async def token_bucket(self, name: str, capacity: int, per_second: float) -> tuple[bool, float]:
        """Take one token of bucket ``name``: ``(allowed, tokens left)``."""
        keys = [self._key(name)]
        allowed, tokens = await self._script(
            "ratelimit", scripts.BUCKET, keys, capacity, repr(per_second)
        )
        return bool(allowed), float(tokens)
