"""Pure functions: one registry payload in, records out. Dates are ``yyyyMMdd``, sex is the
GB/T 2261 code (``1`` male, ``2`` female); unknown ids are simply absent from an answer."""

from __future__ import annotations

from datetime import date

import orjson

from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields
from connectors.population.models import Household, HouseholdMember, Person, Sex

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


def refusal_code(body: bytes) -> str | None:
    """The exchange's ``{"code": "E_…", "message"}`` refusal code, if the body is one."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    code = payload.get("code") if isinstance(payload, dict) else None
    return code if isinstance(code, str) else None
