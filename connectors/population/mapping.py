"""Pure functions: one registry payload in, records out. Dates are ``yyyyMMdd``, sex is the
GB/T 2261 code (``1`` male, ``2`` female); unknown ids are simply absent from an answer.

An export page (up to 10,000 rows) becomes columns at once (``export_page``): each field is
gathered into one list, checked for its type and format over the whole column, and turned into
a numpy array; a row missing a field or with a wrong one fails the page, as ``Fields`` would."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.population.models import ExportPage, Household, HouseholdMember, Person, Sex

DEPARTMENT = "population"
SEXES = {"1": Sex.MALE, "2": Sex.FEMALE}


def _error(message: str) -> UpstreamPayloadError:
    return UpstreamPayloadError(DEPARTMENT, message)


def parse_date(text: str, record: str) -> date:
    """``19561203`` → 1956-12-03."""
    if len(text) != 8 or not text.isdigit():
        raise _error(f"{record}: not a yyyyMMdd date: {text!r}")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError as exc:
        raise _error(f"{record}: not a yyyyMMdd date: {text!r}") from exc


def person(payload: object) -> Person:
    f = Fields(payload, DEPARTMENT, "person")
    sex = SEXES.get(f.text("sex"))
    if sex is None:
        raise _error(f"person.sex: unknown code {f.text('sex')!r}")
    return Person(
        id_number=f.text("id_number"),
        name=f.text("name"),
        birth_date=parse_date(f.text("birth_date"), "person.birth_date"),
        sex=sex,
        hukou_district=f.text("hukou_district"),
        hukou_since=parse_date(f.text("hukou_since"), "person.hukou_since"),
        hukou_type=f.text("hukou_type"),
        alive=f.flag("alive"),
        household_id=f.text("household_id"),
        mobile=f.opt_text("mobile"),
    )


def persons(payload: object) -> tuple[Person, ...]:
    return tuple(person(p) for p in Fields(payload, DEPARTMENT, "persons").array("persons"))


def member(payload: object) -> HouseholdMember:
    f = Fields(payload, DEPARTMENT, "household.members[]")
    return HouseholdMember(
        id_number=f.text("id_number"),
        name=f.text("name"),
        relation=f.text("relation"),
        birth_date=parse_date(f.text("birth_date"), "household.members[].birth_date"),
        alive=f.flag("alive"),
    )


def households(payload: object) -> tuple[Household, ...]:
    found = []
    for element in Fields(payload, DEPARTMENT, "households").array("households"):
        f = Fields(element, DEPARTMENT, "household")
        members = tuple(member(m) for m in f.array("members"))
        found.append(Household(f.text("household_id"), members))
    return tuple(found)


EXPORT_TEXT = ("id_number", "name", "sex", "hukou_district", "household_id")
EXPORT_DATES = ("birth_date", "hukou_since")


def _column(rows: Sequence[Any], key: str) -> list[Any]:
    try:
        return [row[key] for row in rows]
    except KeyError:
        raise _error(f"export.rows[].{key}: missing") from None
    except TypeError:
        raise _error("export.rows[]: expected objects") from None


def _texts(values: list[Any], key: str) -> npt.NDArray[np.str_]:
    if not set(map(type, values)) <= {str}:
        raise _error(f"export.rows[].{key}: expected strings")
    return np.array(values, dtype=np.str_)


def parse_dates(values: list[Any], key: str) -> npt.NDArray[np.datetime64]:
    """``yyyyMMdd`` strings → ``datetime64[D]``, every one checked (``19561303`` is an error)."""
    raw = _texts(values, key)
    if raw.size == 0:
        return np.array([], dtype="datetime64[D]")
    if (np.char.str_len(raw) != 8).any() or not np.char.isdigit(raw).all():
        raise _error(f"export.rows[].{key}: not a yyyyMMdd date")
    number = raw.astype(np.int64)
    month, day = number // 100 % 100, number % 100
    months = ((number // 10000 - 1970) * 12 + month - 1).astype("datetime64[M]")
    days: npt.NDArray[np.datetime64] = months.astype("datetime64[D]") + (day - 1).astype(
        "timedelta64[D]"
    )
    if ((month < 1) | (month > 12) | (day < 1) | (days.astype("datetime64[M]") != months)).any():
        raise _error(f"export.rows[].{key}: not a yyyyMMdd date")
    return days


def export_page(payload: object) -> ExportPage:
    """``{"rows": [...], "next_cursor"}`` → one ``ExportPage`` of columns."""
    f = Fields(payload, DEPARTMENT, "export")
    rows, next_cursor = f.array("rows"), f.opt_text("next_cursor")
    text = {key: _texts(_column(rows, key), key) for key in EXPORT_TEXT}
    dates = {key: parse_dates(_column(rows, key), key) for key in EXPORT_DATES}
    alive = _column(rows, "alive")
    if not set(map(type, alive)) <= {bool}:
        raise _error("export.rows[].alive: expected true or false")
    sex = text.pop("sex")
    if not np.isin(sex, tuple(SEXES)).all():
        raise _error("export.rows[].sex: unknown code")
    mobiles = [row.get("mobile") for row in rows]
    return ExportPage(
        id_number=text["id_number"],
        name=text["name"],
        birth_date=dates["birth_date"],
        sex=np.where(sex == "1", Sex.MALE.value, Sex.FEMALE.value),
        hukou_district=text["hukou_district"],
        hukou_since=dates["hukou_since"],
        alive=np.array(alive, dtype=np.bool_),
        household_id=text["household_id"],
        mobile=_texts([m if m is not None else "" for m in mobiles], "mobile"),
        next_cursor=next_cursor,
    )


def refusal_code(body: bytes) -> str | None:
    """The exchange's ``{"code": "E_…", "message"}`` refusal code, if the body is one."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None
