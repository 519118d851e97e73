"""Resident signing keys from the identity service's JWKS, rotated by ``kid``.

``JwksKeySet`` is a ``hub.security.auth.KeySource``: it loads the set when the lifespan starts,
refreshes it in a background task every ``refresh_s``, and once more when a token names a
``kid`` it does not know — at most once per ``cooldown_s``, so a flood of made-up kids cannot
hammer the identity service. A failed refresh (unreachable, not JSON, no usable key) keeps the
last good set. Every entry passes an allow-list before PyJWT parses it: a signing key (``use``
absent or ``sig``), public only, whose algorithm (``alg``, or the one its ``kty``/``crv``
implies) is one the hub accepts and matches its key type; ``oct`` keys and ``HS*``/``none``
never make it in.

Why not ``jwt.PyJWKClient``: it fetches with blocking ``urllib`` (a stalled identity service
would stall the event loop, or need a thread per look-up), refetches on every unknown ``kid``
with no rate limit, and takes any key PyJWT can parse, ``oct`` included. Here the fetch is
aiohttp on the hub's own loop, and ``jwt.PyJWK`` still does the key parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import aiohttp
import jwt

from hub.security.auth import ASYMMETRIC

logger = logging.getLogger("ihub.jwks")

MAX_JWKS_BYTES = 256 * 1024
# the key type (and curve) each accepted algorithm needs; an entry without ``alg`` gets the
# first algorithm listed for its shape
SHAPE: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "EdDSA": ("OKP", "Ed25519"),
}
IMPLIED = {shape: algorithm for algorithm, shape in reversed(SHAPE.items())}
MIN_RSA_BITS = 2048


class JwksError(Exception):
    """The JWKS could not be fetched or holds no usable key."""


def usable_key(entry: object, algorithms: Iterable[str]) -> jwt.PyJWK | None:
    """The entry as a verification key, or ``None`` when the allow-list refuses it."""
    if not isinstance(entry, Mapping):
        return None
    kid, kty = entry.get("kid"), entry.get("kty")
    if not isinstance(kid, str) or not kid or len(kid) > 200 or not isinstance(kty, str):
        return None
    if entry.get("use", "sig") != "sig" or "d" in entry or "k" in entry:
        return None  # an encryption key, or secret material that has no place in a JWKS
    crv = entry.get("crv")
    shape = (kty, crv if isinstance(crv, str) and kty != "RSA" else None)
    algorithm = entry.get("alg") or IMPLIED.get(shape)
    if not isinstance(algorithm, str) or algorithm not in set(algorithms) & ASYMMETRIC:
        return None
    if SHAPE.get(algorithm) != shape:
        return None  # e.g. an RSA key labelled ES256, a P-384 key labelled ES256
    try:
        key = jwt.PyJWK(dict(entry), algorithm=algorithm)
    except (jwt.PyJWTError, ValueError, TypeError):
        return None
    if kty == "RSA" and getattr(key.key, "key_size", 0) < MIN_RSA_BITS:
        return None
    return key


def parse_jwks(document: object, algorithms: Iterable[str]) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS document by ``kid`` (the first entry wins a duplicate)."""
    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise JwksError("not a JWKS: no 'keys' list")
    allowed = tuple(algorithms)
    keys: dict[str, jwt.PyJWK] = {}
    for entry in entries:
        key = usable_key(entry, allowed)
        if key is not None and key.key_id is not None:
            keys.setdefault(key.key_id, key)
    if len(keys) < len(entries):
        logger.info("JWKS: kept %d of %d keys (the rest are not allowed)", len(keys), len(entries))
    if not keys:
        raise JwksError("the JWKS holds no usable signing key")
    return keys


class JwksKeySet:
    """The identity service's current signing keys, kept fresh; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        algorithms: Iterable[str],
        refresh_s: float = 300.0,
        cooldown_s: float = 30.0,
        timeout_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self._algorithms = tuple(algorithms)
        self._refresh_s = refresh_s
        self._cooldown_s = cooldown_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._sleep = sleep
        self._keys: dict[str, jwt.PyJWK] = {}
        self._lock = asyncio.Lock()
        self._last_on_demand: float | None = None
        self._healthy = False
        self._session: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def kids(self) -> frozenset[str]:
        """The ids of the keys in use now."""
        return frozenset(self._keys)

    def get(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    async def refresh_for(self, kid: str) -> None:
        """Fetch the set again for an unknown ``kid``, unless one was fetched for that lately."""
        async with self._lock:
            if kid in self._keys:
                return  # a refresh that finished while this request waited brought it
            now = self._clock()
            if self._last_on_demand is not None and now - self._last_on_demand < self._cooldown_s:
                return
            self._last_on_demand = now
            await self._refresh_locked()

    async def refresh(self) -> bool:
        """Fetch the set now; ``False`` (keeping the last good set) when that fails."""
        async with self._lock:
            return await self._refresh_locked()

    async def start(self) -> None:
        """Load the set (a failure is logged, not fatal) and start refreshing it."""
        self._session = aiohttp.ClientSession(headers={"User-Agent": "ihub/0.1"})
        if not await self.refresh():
            logger.error("JWKS unavailable at start-up: resident tokens fail until it loads")
        self._task = asyncio.create_task(self._keep_fresh(), name="jwks-refresh")

    async def stop(self) -> None:
        """Stop refreshing and close the HTTP session."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _keep_fresh(self) -> None:
        while True:
            # after a failure, try again sooner than the regular interval
            delay = self._refresh_s if self._healthy else min(self._refresh_s, self._cooldown_s)
            await self._sleep(delay)
            try:
                await self.refresh()
            except Exception:  # a bug here must not stop the refreshing for good
                logger.exception("JWKS refresh failed unexpectedly")

    async def _refresh_locked(self) -> bool:
        try:
            keys = parse_jwks(await self._fetch(), self._algorithms)
        except (JwksError, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            self._healthy = False
            logger.warning(
                "JWKS refresh from %s failed (%s: %s); keeping %d keys",
                self.url,
                type(exc).__name__,
                exc,
                len(self._keys),
            )
            return False
        if set(keys) != set(self._keys):
            logger.info("JWKS keys now %s (were %s)", sorted(keys), sorted(self._keys))
        self._keys = keys
        self._healthy = True
        return True

    async def _fetch(self) -> Any:
        if self._session is None:
            raise JwksError("the key set is not started")
        async with self._session.get(
            self.url, timeout=self._timeout, headers={"Accept": "application/json"}
        ) as response:
            if response.status != 200:
                raise JwksError(f"HTTP {response.status}")
            body = await response.content.read(MAX_JWKS_BYTES + 1)
            if len(body) > MAX_JWKS_BYTES:
                raise JwksError("the JWKS is too large")
            return json.loads(body)
