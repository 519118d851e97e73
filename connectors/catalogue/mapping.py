"""Pure functions: one catalogue payload in, one record out. No I/O.

The catalogue's quirks are handled here, once: ``materials`` is either an array or a JSON
string holding that array (an old export); times are ``yyyyMMddHHmmss`` in Beijing time;
fees are integer fen; ``status`` (``active`` / ``withdrawn``) is absent from older exports,
which means in force.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta, timezone

import orjson

from connectors.catalogue.models import (
    Changes,
    Channel,
    Disclosure,
    FormField,
    Item,
    ItemPage,
    ItemStatus,
    Material,
    MaterialKind,
    PublicService,
    Scenario,
    ScenarioMaterial,
    ScenarioStep,
    ScenarioSummary,
)
from connectors.errors import UpstreamPayloadError
from connectors.payload import Fields, elements

DEPARTMENT = "catalogue"
MAX_PAGE_SIZE = 100
MAX_BATCH = 50
TIME_FORMAT = "%Y%m%d%H%M%S"
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def _error(message: str) -> UpstreamPayloadError:
    return UpstreamPayloadError(DEPARTMENT, message)


def parse_time(text: str, record: str) -> datetime:
    """``20260927113800`` → 2026-09-27 11:38:00+08:00."""
    if len(text) != 14 or not text.isdigit():
        raise _error(f"{record}: not a yyyyMMddHHmmss time: {text!r}")
    try:
        return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=SHANGHAI)
    except ValueError as exc:
        raise _error(f"{record}: not a yyyyMMddHHmmss time: {text!r}") from exc


def format_time(moment: datetime) -> str:
    """A time as the catalogue takes it in ``since`` (Beijing wall time)."""
    if moment.tzinfo is None:
        raise ValueError("a time with an offset, please")
    return moment.astimezone(SHANGHAI).strftime(TIME_FORMAT)


def _kind(value: object, record: str) -> MaterialKind:
    try:
        return MaterialKind(value)
    except ValueError as exc:
        raise _error(f"{record}: unknown material type {value!r}") from exc


def material(payload: object) -> Material:
    f = Fields(payload, DEPARTMENT, "item.materials[]")
    return Material(
        name=f.text("name"),
        kind=_kind(f.text("type"), "item.materials[]"),
        count=f.opt_integer("count") or 1,
        required=f.flag("required"),
        from_dept=f.opt_text("from_dept"),
    )


def materials(raw: object) -> tuple[Material, ...]:
    """The array, or the JSON string holding it."""
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _error("item.materials: a string that is not JSON") from exc
    return tuple(material(element) for element in elements(raw, DEPARTMENT, "item.materials"))


def _channel(value: object) -> Channel:
    try:
        return Channel(value)
    except ValueError as exc:
        raise _error(f"item.channels: unknown channel {value!r}") from exc


def _status(value: str | None) -> ItemStatus:
    """An item without ``status`` (older exports) is in force."""
    try:
        return ItemStatus(value or ItemStatus.ACTIVE.value)
    except ValueError as exc:
        raise _error(f"item.status: unknown status {value!r}") from exc


def item(payload: object) -> Item:
    f = Fields(payload, DEPARTMENT, "item")
    assert isinstance(payload, Mapping)  # Fields checked it
    if payload.get("materials") is None:
        raise _error("item.materials: missing")
    return Item(
        impl_code=f.text("impl_code"),
        basic_code=f.text("basic_code"),
        local_code=f.text("local_code"),
        name=f.text("name"),
        dept_code=f.text("dept_code"),
        dept_name=f.text("dept_name"),
        kind=f.text("type"),
        legal_basis=f.opt_text("legal_basis") or "",
        promise_days=f.integer("promise_days"),
        legal_days=f.integer("legal_days"),
        visits=f.integer("visits"),
        online_level=f.integer("online_level"),
        instant=f.flag("instant"),
        channels=tuple(_channel(value) for value in f.opt_array("channels")),
        fee_fen=f.opt_integer("fee") or 0,
        materials=materials(payload["materials"]),
        conditions=f.opt_text("conditions") or "",
        life_stages=tuple(str(code) for code in f.opt_array("life_stages")),
        groups=tuple(str(code) for code in f.opt_array("groups")),
        updated_at=parse_time(f.text("updated_at"), "item.updated_at"),
        status=_status(f.opt_text("status")),
    )


def item_list(payload: object, record: str = "items") -> tuple[Item, ...]:
    """The ``items`` array of an answer (a page, a batch, the change feed)."""
    f = Fields(payload, DEPARTMENT, record)
    return tuple(item(element) for element in f.array("items"))


def item_page(payload: object) -> ItemPage:
    f = Fields(payload, DEPARTMENT, "items")
    return ItemPage(
        total=f.integer("total"),
        page=f.integer("page"),
        size=f.integer("size"),
        items=item_list(payload),
    )


def changes(payload: object) -> Changes:
    f = Fields(payload, DEPARTMENT, "changes")
    return Changes(
        since=parse_time(f.text("since"), "changes.since"),
        until=parse_time(f.text("until"), "changes.until"),
        items=item_list(payload, "changes"),
    )


def scenario_summaries(payload: object) -> tuple[ScenarioSummary, ...]:
    out = []
    for element in elements(payload, DEPARTMENT, "scenarios"):
        f = Fields(element, DEPARTMENT, "scenario")
        out.append(ScenarioSummary(f.text("id"), f.text("name"), f.integer("item_count")))
    return tuple(out)


def _codes(f: Fields) -> tuple[str, ...]:
    return tuple(str(code) for code in f.array("item_codes"))


def scenario(payload: object) -> Scenario:
    f = Fields(payload, DEPARTMENT, "scenario")
    steps = []
    for element in f.array("items"):
        s = Fields(element, DEPARTMENT, "scenario.items[]")
        steps.append(
            ScenarioStep(
                s.integer("order"),
                s.text("impl_code"),
                s.text("name"),
                s.opt_text("dept_name") or "",
            )
        )
    merged = []
    for element in f.opt_array("materials"):
        m = Fields(element, DEPARTMENT, "scenario.materials[]")
        merged.append(
            ScenarioMaterial(
                m.text("name"),
                _kind(m.text("type"), "scenario.materials[]"),
                m.opt_text("from_dept"),
                _codes(m),
            )
        )
    form = []
    for element in f.opt_array("form"):
        field = Fields(element, DEPARTMENT, "scenario.form[]")
        form.append(FormField(field.text("key"), field.text("label"), _codes(field)))
    return Scenario(
        id=f.text("id"),
        name=f.text("name"),
        description=f.opt_text("description") or "",
        steps=tuple(sorted(steps, key=lambda step: step.order)),
        materials=tuple(merged),
        form=tuple(form),
    )


def public_services(payload: object) -> tuple[PublicService, ...]:
    out = []
    for element in elements(payload, DEPARTMENT, "public_services"):
        f = Fields(element, DEPARTMENT, "public_service")
        out.append(
            PublicService(
                f.text("id"),
                f.text("name"),
                f.text("category"),
                f.opt_text("category_name") or "",
                f.text("link"),
            )
        )
    return tuple(out)


def disclosures(payload: object) -> tuple[Disclosure, ...]:
    out = []
    for element in elements(payload, DEPARTMENT, "disclosures"):
        f = Fields(element, DEPARTMENT, "disclosure")
        out.append(
            Disclosure(
                id=f.text("id"),
                category=f.text("category"),
                category_name=f.opt_text("category_name") or "",
                title=f.text("title"),
                url=f.text("url"),
                published_at=parse_time(f.text("published_at"), "disclosure.published_at"),
            )
        )
    return tuple(out)
