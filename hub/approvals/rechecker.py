"""The review queue's automatic re-check: a bounded background task that re-decides queued
NEEDS_REVIEW cases once their departments answer again (``ApprovalService.recheck_open``).

At most ``limit`` cases a round, one round every ``interval_s``; a failing round is logged and
counted, never fatal. Its counts are in ``/status`` (``approvals``) and ``/metrics``
(``ihub_review_rechecks_total``, ``ihub_review_closed_total``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from hub.approvals.service import ApprovalService

logger = logging.getLogger("ihub.approvals")


class Rechecker:
    def __init__(
        self,
        service: ApprovalService,
        *,
        interval_s: float,
        limit: int = 20,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._service = service
        self._interval_s = interval_s
        self._limit = limit
        self._task: asyncio.Task[None] | None = None
        self.rounds = self.checked = self.closed = self.failures = 0
        self.last_round_at: datetime | None = None
        self._rounds_metric = Counter(
            "ihub_review_rechecks", "Re-check rounds of the 秒批 review queue",
            ["result"], registry=registry,
        ) if registry is not None else None  # fmt: skip
        self._closed_metric = Counter(
            "ihub_review_closed", "Queued 秒批 cases closed by the automatic re-check",
            registry=registry,
        ) if registry is not None else None  # fmt: skip

    def start(self) -> None:
        if self._task is None and self._interval_s > 0:
            self._task = asyncio.create_task(self._run(), name="approvals-recheck")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def round(self) -> None:
        try:
            checked, closed = await self._service.recheck_open(self._limit)
        except Exception:
            self.failures += 1
            if self._rounds_metric is not None:
                self._rounds_metric.labels("error").inc()
            logger.exception("review queue re-check failed")
            return
        self.rounds += 1
        self.checked += checked
        self.closed += closed
        self.last_round_at = datetime.now(UTC)
        if self._rounds_metric is not None:
            self._rounds_metric.labels("ok").inc()
        if self._closed_metric is not None and closed:
            self._closed_metric.inc(closed)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.round()

    def status(self) -> dict[str, Any]:
        return {
            "recheckIntervalSeconds": self._interval_s,
            "rounds": self.rounds,
            "casesChecked": self.checked,
            "casesClosed": self.closed,
            "failedRounds": self.failures,
            "lastRoundAt": self.last_round_at.isoformat() if self.last_round_at else None,
        }
