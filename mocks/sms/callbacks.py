"""Delivery reports and uplink replies POSTed to the hub's callback URL, at least once.

One worker per gateway delivers them one after the other, each signed afresh
(``signing.callback_headers``). An answer other than 2xx, or no answer, is tried again
(``ATTEMPTS`` in all, backing off) while the URL stays the configured one; a callback made
while no URL is set is dropped, as the operator drops it. Faults (``/__admin/faults``):

- ``duplicate_callbacks``: every callback answered 2xx is delivered a second time.
- ``reorder``: callbacks are held, and released newest first by ``POST
  /__admin/callbacks/flush`` or when ``reorder`` is turned off.

``GET /__admin/callbacks`` lists every delivery attempt with its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from mocks.common.admin import Faults
from mocks.sms.signing import callback_headers

ATTEMPTS = 5
BACKOFF_S = 0.05
TIMEOUT_S = 5.0


@dataclass
class SmsFaults(Faults):
    """The common faults plus the gateway's own ways of delivering callbacks."""

    duplicate_callbacks: bool = False
    reorder: bool = False


@dataclass(frozen=True)
class Callback:
    kind: str  # "SmsReport" | "SmsUp"
    key: str  # the biz_id or the uplink's sequence_id
    url: str
    body: bytes


@dataclass
class Callbacks:
    faults: SmsFaults
    secret: str
    url: str | None = None
    log: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    _pending: deque[Callback] = field(default_factory=deque)
    _held: list[Callback] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _busy: bool = False

    def enqueue(self, kind: str, key: str, body: bytes) -> None:
        if self.url is None:
            self.dropped += 1
            return
        callback = Callback(kind, key, self.url, body)
        (self._held if self.faults.reorder else self._pending).append(callback)
        self._wake.set()

    def flush(self) -> int:
        """Release the held callbacks, newest first."""
        released = len(self._held)
        self._pending.extend(reversed(self._held))
        self._held.clear()
        self._wake.set()
        return released

    def clear(self) -> None:
        self._pending.clear()
        self._held.clear()
        self.log.clear()
        self.dropped = 0
        self.url = None

    def view(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "pending": len(self._pending) + (1 if self._busy else 0),
            "held": len(self._held),
            "dropped": self.dropped,
            "attempts": list(self.log),
        }

    async def run(self, session: aiohttp.ClientSession) -> None:
        """The worker: deliver pending callbacks in order, forever."""
        while True:
            if self._held and not self.faults.reorder:
                self.flush()
            if not self._pending:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 0.05)
                continue
            callback = self._pending.popleft()
            self._busy = True
            try:
                if await self._deliver(session, callback, duplicate=False) and (
                    self.faults.duplicate_callbacks
                ):
                    await self._deliver(session, callback, duplicate=True)
            finally:
                self._busy = False

    async def _deliver(
        self, session: aiohttp.ClientSession, callback: Callback, *, duplicate: bool
    ) -> bool:
        for attempt in range(1, ATTEMPTS + 1):
            if attempt > 1 and callback.url != self.url:
                return False  # the hub moved its webhook (or a reset): not retried there
            entry: dict[str, Any] = {
                "type": callback.kind,
                "id": callback.key,
                "attempt": attempt,
                "duplicate": duplicate,
            }
            try:
                async with session.post(
                    callback.url,
                    data=callback.body,
                    headers=callback_headers(self.secret, callback.body),
                    timeout=aiohttp.ClientTimeout(total=TIMEOUT_S),
                ) as answer:
                    await answer.read()
                    entry["status"] = answer.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                entry["error"] = type(exc).__name__
            self.log.append(entry)
            if 200 <= entry.get("status", 0) < 300:
                return True
            await asyncio.sleep(BACKOFF_S * 2**attempt)
        return False
