"""秒批 (instant approval): rules as code on OpenFisca, evidence from the departments, the
decision record. ``ApprovalService`` is the entry point (``hub.approvals.service``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

SHANGHAI = timedelta(hours=8)


def approval_clock(fixed: str | None) -> Callable[[], date]:
    """The approval service's "today": ``fixed`` (yyyy-MM-dd) if set, else the Shanghai date."""
    if fixed:
        day = date.fromisoformat(fixed)
        return lambda: day
    return lambda: (datetime.now(UTC) + SHANGHAI).date()
