"""Scenario guides (一件事): the items in order, one merged list of materials, one merged form.

A resident fills the form once for every item of the scenario (少填、少报、少跑). Under
``me { services { scenario } }`` the fields the hub can fill from what it holds come pre-filled
(``PREFILL``); anywhere else, and for anyone not signed in, nothing is. Pre-filled values are
the resident's personal data: they are answered only under ``me``, so the audit trail records
the read (``me.services.scenario.form.value``) and withholds it when it cannot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import strawberry

from connectors.catalogue.models import Scenario, ScenarioMaterial
from connectors.catalogue.models import ScenarioSummary as Summary
from schema.context import HubInfo, Principal, ResidentProfile
from schema.links import DEFAULT_SIZE, ImageFormat, PageKind
from schema.masking import Identifier, shown
from schema.qr import QR_CODE_DESCRIPTION, QrCode, QrFormat, qr_code_for
from schema.services.items import ServiceItem, item_of
from schema.services.licenses import HubRecord, held_license
from schema.services.types import MaterialForm, material_form


@dataclass(frozen=True)
class Prefill:
    source: HubRecord
    value: str | None = None
    choices: tuple[str, ...] = ()


def _address(r: ResidentProfile) -> str:
    return f"深圳市罗湖区{r.community.street}{r.community.name}"


def _children(r: ResidentProfile) -> Prefill:
    names = tuple(p.name for p in r.household if p.member_no)
    return Prefill(HubRecord.HOUSEHOLD, names[0] if len(names) == 1 else None, names)


PREFILL: Mapping[str, Callable[[ResidentProfile, Principal], Prefill]] = {
    "applicant_name": lambda r, _: Prefill(HubRecord.IDENTITY, r.name),
    "id_number": lambda r, p: Prefill(
        HubRecord.IDENTITY, shown(p, Identifier.ID_NUMBER, r.id_number)
    ),
    "address": lambda r, _: Prefill(HubRecord.HOUSEHOLD, _address(r)),
    "residence_address": lambda r, _: Prefill(HubRecord.HOUSEHOLD, _address(r)),
    "child_name": lambda r, _: _children(r),
    "household_members": lambda r, _: Prefill(
        HubRecord.HOUSEHOLD, None, tuple(p.name for p in r.household)
    ),
}
"""Form field key → what the hub fills it with for a signed-in resident. The ID number is
masked as everywhere (``schema.masking``); names are the resident's own household's, shown to
them as ``me.household`` shows them. A field not here is left for the resident."""


@strawberry.type(description="一件事 · A scenario guide as listed.")
class ScenarioSummary:
    id: strawberry.ID
    name: str
    item_count: int


def summary_of(summary: Summary) -> ScenarioSummary:
    return ScenarioSummary(
        id=strawberry.ID(summary.id), name=summary.name, item_count=summary.item_count
    )


@strawberry.type(description="One step of a scenario: an item, in the order it is done.")
class ScenarioStep:
    order: int
    code: strawberry.ID = strawberry.field(description="The item's implementation code.")
    name: str
    department_name: str
    item: ServiceItem | None = strawberry.field(description="The item itself; null if unknown.")


@strawberry.type(description="A material of the scenario, merged across its items.")
class ScenarioMaterialEntry:
    name: str
    form: MaterialForm
    issued_by: str | None
    item_codes: list[strawberry.ID] = strawberry.field(description="The items that ask for it.")
    hub_e_license: HubRecord | None = strawberry.field(
        description="The hub's record that replaces it as an e-licence; null when it must be "
        "brought."
    )

    @strawberry.field(description="Whether the hub holds it as an e-licence (免提交).")
    def replaceable_by_e_license(self) -> bool:
        return self.hub_e_license is not None


@strawberry.type(description="A field of the scenario's one form, with the items that need it.")
class ScenarioFormField:
    key: str
    label: str
    item_codes: list[strawberry.ID]
    value: str | None = strawberry.field(
        description="Pre-filled from what the hub holds (only under `me`; ID numbers masked)."
    )
    choices: list[str] = strawberry.field(
        description="Values the hub offers to choose from (e.g. the household's children)."
    )
    prefilled_from: HubRecord | None = strawberry.field(
        description="The hub's record the value comes from; null when not pre-filled."
    )


@strawberry.type(description="一件事 · A scenario guide: steps, merged materials, one form.")
class ScenarioGuide:
    id: strawberry.ID
    name: str
    description: str
    form: list[ScenarioFormField]
    record: strawberry.Private[Scenario]

    @strawberry.field(description=QR_CODE_DESCRIPTION)
    def qr_code(
        self, info: HubInfo, format: QrFormat = ImageFormat.SVG, size: int = DEFAULT_SIZE
    ) -> QrCode:
        return qr_code_for(info, PageKind.SCENARIO, self.id, format, size)

    @strawberry.field(description="The items in the order a resident does them.")
    async def steps(self, info: HubInfo) -> list[ScenarioStep] | None:
        codes = [step.impl_code for step in self.record.steps]
        items = await info.context.catalogue.items_by_codes(codes)
        return [
            ScenarioStep(
                order=step.order,
                code=strawberry.ID(step.impl_code),
                name=step.name,
                department_name=step.dept_name,
                item=item_of(items[step.impl_code]) if step.impl_code in items else None,
            )
            for step in sorted(self.record.steps, key=lambda s: s.order)
        ]

    @strawberry.field(description="Every material of every step, once each.")
    def materials(self) -> list[ScenarioMaterialEntry]:
        return merged_materials(self.record.materials)


def merged_materials(materials: tuple[ScenarioMaterial, ...]) -> list[ScenarioMaterialEntry]:
    """One entry per material name, with every item that asks for it (first-seen order)."""
    merged: dict[str, ScenarioMaterialEntry] = {}
    for material in materials:
        entry = merged.get(material.name)
        if entry is None:
            held = held_license(material.name)
            entry = merged[material.name] = ScenarioMaterialEntry(
                name=material.name,
                form=material_form(material.kind),
                issued_by=material.from_dept,
                item_codes=[],
                hub_e_license=held.record if held else None,
            )
        for code in material.item_codes:
            if code not in entry.item_codes:
                entry.item_codes.append(strawberry.ID(code))
    return list(merged.values())


def guide_of(
    scenario: Scenario, resident: ResidentProfile | None, principal: Principal | None = None
) -> ScenarioGuide:
    """The guide; its form pre-filled for ``resident`` (only ever the signed-in one)."""
    form = []
    for field in scenario.form:
        fill = PREFILL.get(field.key)
        found = fill(resident, principal) if fill and resident and principal else None
        if found is not None and found.value is None and not found.choices:
            found = None  # nothing the hub holds fits (no children, say)
        form.append(
            ScenarioFormField(
                key=field.key,
                label=field.label,
                item_codes=[strawberry.ID(code) for code in dict.fromkeys(field.item_codes)],
                value=found.value if found else None,
                choices=list(found.choices) if found else [],
                prefilled_from=found.source if found else None,
            )
        )
    return ScenarioGuide(
        id=strawberry.ID(scenario.id),
        name=scenario.name,
        description=scenario.description,
        form=form,
        record=scenario,
    )
