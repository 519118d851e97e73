"""Pure functions for 人社's payloads: camelCase fields, ``yyyy-MM-dd`` dates, the envelope
``{"code": "0000", "msg", "data"}`` (``0000`` ok, ``1004`` no record, ``1001`` bad id)."""

from __future__ import annotations

from dataclasses import dataclass

from connectors.errors import UpstreamPayloadError
from connectors.hrss.models import Insurance, InsuranceStatus, Retirement
from connectors.payload import Fields

DEPARTMENT = "hrss"
OK = "0000"
NO_RECORD = "1004"


@dataclass(frozen=True)
class Envelope:
    code: str
    msg: str
    data: object


def envelope(payload: object) -> Envelope:
    f = Fields(payload, DEPARTMENT, "envelope")
    assert isinstance(payload, dict)
    return Envelope(f.text("code"), f.opt_text("msg") or "", payload.get("data"))


def insurance(payload: object) -> Insurance:
    f = Fields(payload, DEPARTMENT, "insured")
    try:
        status = InsuranceStatus(f.text("status"))
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, f"insured.status: {f.text('status')!r}") from exc
    months = f.integer("months")
    if months < 0:
        raise UpstreamPayloadError(DEPARTMENT, "insured.months: negative")
    return Insurance(
        id_number=f.text("idNo"),
        name=f.text("name"),
        insured_since=f.day("insuredSince"),
        unit_name=f.opt_text("unitName"),
        months=months,
        status=status,
    )


def retirement(payload: object) -> Retirement:
    f = Fields(payload, DEPARTMENT, "retirement")
    assert isinstance(payload, dict)
    retire_date = f.day("retireDate") if payload.get("retireDate") is not None else None
    return Retirement(
        id_number=f.text("idNo"),
        retired=f.flag("retired"),
        retire_date=retire_date,
        pension_fen=f.opt_integer("pensionFen"),
    )
