"""Pure functions for the civil-affairs ledger's payloads. Quirk: on the v2 ledger amounts are
fen as strings (``"20000"``); months are ``yyyy-MM``."""

from __future__ import annotations

from datetime import date

from connectors.civil.models import CareAssessment, Entitlement, EntitlementStatus, Granted
from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields

DEPARTMENT = "civil"


def _error(message: str) -> UpstreamPayloadError:
    return UpstreamPayloadError(DEPARTMENT, message)


def fen(value: object, record: str) -> int:
    """``"20000"`` (v2) or ``20000`` → 20000; anything else is a broken contract."""
    if isinstance(value, bool):
        raise _error(f"{record}: not an amount in fen: {value!r}")
    if isinstance(value, int) and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise _error(f"{record}: not an amount in fen: {value!r}")


def month(text: str, record: str) -> date:
    """``2026-12`` → 2026-12-01."""
    try:
        year, number = text.split("-")
        if len(year) != 4 or len(number) != 2:
            raise ValueError(text)
        return date(int(year), int(number), 1)
    except ValueError as exc:
        raise _error(f"{record}: not a yyyy-MM month: {text!r}") from exc


def format_month(day: date) -> str:
    return f"{day:%Y-%m}"


def _status(value: str, record: str) -> EntitlementStatus:
    try:
        return EntitlementStatus(value)
    except ValueError as exc:
        raise _error(f"{record}: unknown status {value!r}") from exc


def entitlement(payload: object) -> Entitlement:
    f = Fields(payload, DEPARTMENT, "entitlement")
    assert isinstance(payload, dict)
    return Entitlement(
        entitlement_id=f.text("entitlement_id"),
        allowance_code=f.text("allowance_code"),
        since=month(f.text("since"), "entitlement.since"),
        amount_fen=fen(payload.get("amount_fen"), "entitlement.amount_fen"),
        status=_status(f.text("status"), "entitlement.status"),
    )


def entitlements(payload: object) -> tuple[Entitlement, ...]:
    f = Fields(payload, DEPARTMENT, "allowances")
    return tuple(entitlement(e) for e in f.array("entitlements"))


def granted(payload: object) -> Granted:
    f = Fields(payload, DEPARTMENT, "grant")
    return Granted(f.text("entitlement_id"), _status(f.text("status"), "grant.status"))


def care_assessment(payload: object) -> CareAssessment | None:
    f = Fields(payload, DEPARTMENT, "care_assessment")
    assert isinstance(payload, dict)
    if payload.get("assessment") is None:
        return None
    a = f.nested("assessment")
    level = a.integer("level")
    if not 0 <= level <= 4:
        raise _error(f"care_assessment.level: not 0–4: {level}")
    return CareAssessment(level, a.day("assessed_on"))
