"""The catalogue's records as the JSON the hub's tables keep, and back (lossless, versioned
by the records' own fields: an unknown key is an error, so a change of model shows at once)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson

from connectors.catalogue.models import (
    Channel,
    Disclosure,
    FormField,
    Item,
    ItemStatus,
    Material,
    MaterialKind,
    PublicService,
    Scenario,
    ScenarioMaterial,
    ScenarioStep,
    ScenarioSummary,
)
from hub.store.catalogue import ItemRow

GUIDE_SUMMARY = "summary"
GUIDE_SCENARIO = "scenario"
GUIDE_SERVICE = "service"
GUIDE_DISCLOSURE = "disclosure"


def _plain(value: Any) -> Any:
    if isinstance(value, ItemStatus | Channel | MaterialKind):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(record: object) -> str:
    return orjson.dumps(asdict(record), default=_plain).decode()  # type: ignore[call-overload]


def item_row(item: Item) -> ItemRow:
    return ItemRow(
        impl_code=item.impl_code,
        local_code=item.local_code,
        name=item.name,
        dept_code=item.dept_code,
        kind=item.kind,
        instant=item.instant,
        life_stages=item.life_stages,
        groups=item.groups,
        channels=tuple(channel.value for channel in item.channels),
        status=item.status.value,
        updated_at=item.updated_at,
        payload=dumps(item),
    )


def item(payload: str) -> Item:
    data = orjson.loads(payload)
    data["channels"] = tuple(Channel(value) for value in data["channels"])
    data["materials"] = tuple(
        Material(**{**m, "kind": MaterialKind(m["kind"])}) for m in data["materials"]
    )
    data["life_stages"] = tuple(data["life_stages"])
    data["groups"] = tuple(data["groups"])
    data["updated_at"] = datetime.fromisoformat(data["updated_at"])
    data["status"] = ItemStatus(data["status"])
    return Item(**data)


def summary(payload: str) -> ScenarioSummary:
    return ScenarioSummary(**orjson.loads(payload))


def scenario(payload: str) -> Scenario:
    data = orjson.loads(payload)
    return Scenario(
        id=data["id"],
        name=data["name"],
        description=data["description"],
        steps=tuple(ScenarioStep(**step) for step in data["steps"]),
        materials=tuple(
            ScenarioMaterial(
                name=m["name"],
                kind=MaterialKind(m["kind"]),
                from_dept=m["from_dept"],
                item_codes=tuple(m["item_codes"]),
            )
            for m in data["materials"]
        ),
        form=tuple(FormField(f["key"], f["label"], tuple(f["item_codes"])) for f in data["form"]),
    )


def public_service(payload: str) -> PublicService:
    return PublicService(**orjson.loads(payload))


def disclosure(payload: str) -> Disclosure:
    data = orjson.loads(payload)
    data["published_at"] = datetime.fromisoformat(data["published_at"])
    return Disclosure(**data)
