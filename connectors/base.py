"""The base every department connector stands on: the one place that touches aiohttp.

A connector subclass knows its department's URLs, envelope and quirks; it calls
``self._request(...)`` and gets an ``UpstreamResponse`` back, or one of the exceptions of
``connectors.errors``. Transport failures are translated here, once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import aiohttp
import orjson
from multidict import CIMultiDict

from connectors.errors import (
    ConnectorError,
    UpstreamPayloadError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

Clock = Callable[[], float]


@dataclass(frozen=True)
class DepartmentPolicy:
    """Per-department settings, kept as data so the hub can configure them by name."""

    base_url: str
    timeout_s: float = 5.0
    connect_timeout_s: float = 2.0
    cache_ttl_s: float = 60.0
    cache_size: int = 2048
    max_concurrency: int = 32
    credentials: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UpstreamResponse:
    """A complete answer from a department: status, headers and the whole body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self, department: str) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise UpstreamPayloadError(department, "answer is not valid JSON") from exc


@dataclass
class Health:
    """What the hub last saw of a department, for ``/readyz``."""

    last_success: float | None = None
    last_failure: float | None = None
    last_error: str | None = None
    consecutive_failures: int = 0

    @property
    def status(self) -> str:
        if self.last_success is None and self.last_failure is None:
            return "unknown"
        return "failing" if self.consecutive_failures else "ok"

    def as_json(self) -> dict[str, object]:
        return {
            "status": self.status,
            "lastSuccess": self.last_success,
            "lastFailure": self.last_failure,
            "lastError": self.last_error,
            "consecutiveFailures": self.consecutive_failures,
        }


class Connector:
    """Base class: one instance per department per process, one ``ClientSession`` each."""

    department: ClassVar[str]

    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: DepartmentPolicy,
        *,
        clock: Clock = time.monotonic,
    ) -> None:
        self.session = session
        self.policy = policy
        self.clock = clock
        self.health = Health()
        self._base_url = policy.base_url.rstrip("/")
        self._slots = asyncio.Semaphore(policy.max_concurrency)
        self._timeout = aiohttp.ClientTimeout(
            total=policy.timeout_s, sock_connect=policy.connect_timeout_s
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json: object = None,
    ) -> UpstreamResponse:
        """Send one call; 5xx and transport failures raise, other statuses are returned."""
        url = self._base_url + path
        try:
            async with (
                self._slots,
                self.session.request(
                    method,
                    url,
                    params=params,
                    headers=headers,
                    data=data,
                    json=json,
                    timeout=self._timeout,
                    allow_redirects=False,
                ) as answer,
            ):
                body = await answer.read()
                response = UpstreamResponse(answer.status, CIMultiDict(answer.headers), body)
        except TimeoutError as exc:
            raise self._failed(
                UpstreamTimeout(self.department, f"{method} {path} timed out")
            ) from exc
        except aiohttp.ClientPayloadError as exc:
            raise self._failed(
                UpstreamPayloadError(self.department, f"{method} {path}: broken body")
            ) from exc
        except aiohttp.ClientError as exc:
            raise self._failed(
                UpstreamUnavailable(self.department, f"{method} {path}: {type(exc).__name__}")
            ) from exc
        if response.status >= 500:
            raise self._failed(
                UpstreamUnavailable(self.department, f"{method} {path}: HTTP {response.status}")
            )
        self.health.last_success = time.time()
        self.health.consecutive_failures = 0
        return response

    def _failed(self, error: ConnectorError) -> ConnectorError:
        self.health.last_failure = time.time()
        self.health.last_error = error.detail
        self.health.consecutive_failures += 1
        return error

    def payload_error(self, message: str) -> UpstreamPayloadError:
        """An answer that broke the department's contract also counts against its health."""
        error = UpstreamPayloadError(self.department, message)
        self._failed(error)
        return error
