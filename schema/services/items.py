"""A service item (事项): everything a resident needs to know before going."""

from __future__ import annotations

import datetime as dt

import strawberry

from connectors.catalogue.models import Item, Material
from schema.bank import BankBranch, Location, branch_of, check_location
from schema.common import Money
from schema.context import CommunityProfile, HubInfo
from schema.links import DEFAULT_SIZE, ImageFormat, PageKind
from schema.pagination import check_first
from schema.qr import QR_CODE_DESCRIPTION, QrCode, QrFormat, qr_code_for
from schema.services.licenses import HubRecord, held_license
from schema.services.places import ServicePlace, item_branches, nearest_first, places_of
from schema.services.types import (
    ItemType,
    LifeStage,
    MaterialForm,
    ServiceChannel,
    ServiceDepartment,
    ServiceGroup,
    Visits,
    known,
    material_form,
    visits_of,
)


@strawberry.type(description="申请材料 · A material an item asks for.")
class ServiceMaterial:
    name: str
    form: MaterialForm = strawberry.field(description="Original, copy or e-licence, as asked.")
    count: int = strawberry.field(description="How many (copies).")
    required: bool
    issued_by: str | None = strawberry.field(description="The department that issues it, if any.")
    hub_e_license: HubRecord | None = strawberry.field(
        description="The hub's record that replaces it as an e-licence (the resident need not "
        "bring it when applying through the hub); null when it must be brought."
    )

    @strawberry.field(description="Whether the hub holds it as an e-licence (免提交).")
    def replaceable_by_e_license(self) -> bool:
        return self.hub_e_license is not None


def material_of(material: Material) -> ServiceMaterial:
    held = held_license(material.name)
    return ServiceMaterial(
        name=material.name,
        form=material_form(material.kind),
        count=material.count,
        required=material.required,
        issued_by=material.from_dept,
        hub_e_license=held.record if held else None,
    )


@strawberry.federation.type(
    keys=["code"],
    description="政务服务事项 · A government service item of the catalogue; an entity other "
    "services may extend, by its implementation code.",
)
class ServiceItem:
    record: strawberry.Private[Item]
    resident_community: strawberry.Private[CommunityProfile | None] = None

    @classmethod
    async def resolve_reference(cls, info: HubInfo, code: str) -> ServiceItem | None:
        """A gateway's reference, answered from the hub's copy (never a catalogue call)."""
        found = await info.context.catalogue.item(code)
        return ServiceItem(record=found) if found is not None and found.impl_code == code else None

    @strawberry.field(description="实施编码 · The implementation code.")
    def code(self) -> strawberry.ID:
        return strawberry.ID(self.record.impl_code)

    @strawberry.field(description="基本编码 · The national basic code.")
    def basic_code(self) -> str:
        return self.record.basic_code

    @strawberry.field(description="The district's short code; the banks' code for bank items.")
    def local_code(self) -> str:
        return self.record.local_code

    @strawberry.field(description=QR_CODE_DESCRIPTION)
    def qr_code(
        self, info: HubInfo, format: QrFormat = ImageFormat.SVG, size: int = DEFAULT_SIZE
    ) -> QrCode:
        return qr_code_for(info, PageKind.ITEM, self.record.impl_code, format, size)

    @strawberry.field(description="事项名称")
    def name(self) -> str:
        return self.record.name

    @strawberry.field(description="实施部门 · The implementing department.")
    def department(self) -> ServiceDepartment:
        record = self.record
        return ServiceDepartment(
            code=strawberry.ID(record.dept_code), name=record.dept_name, item_count=None
        )

    @strawberry.field(description="事项类型 · Null for a kind the schema does not know yet.")
    def type(self) -> ItemType | None:
        found = known(ItemType, [self.record.kind])
        return found[0] if found else None

    @strawberry.field(description="The type as the catalogue names it, e.g. 行政许可.")
    def type_name(self) -> str:
        return self.record.kind

    @strawberry.field(description="设定依据 · The legal basis.")
    def legal_basis(self) -> str:
        return self.record.legal_basis

    @strawberry.field(description="受理条件 · Who may apply, and when.")
    def conditions(self) -> str:
        return self.record.conditions

    @strawberry.field(description="承诺时限 · Working days promised.")
    def promised_days(self) -> int:
        return self.record.promise_days

    @strawberry.field(description="法定时限 · Working days the law allows.")
    def legal_days(self) -> int:
        return self.record.legal_days

    @strawberry.field(description="零跑动 / 最多跑一次.")
    def visits(self) -> Visits:
        return visits_of(self.record.visits)

    @strawberry.field(description="How many visits in person at most.")
    def visit_count(self) -> int:
        return self.record.visits

    @strawberry.field(description="网办深度 1–4 (4 = 全程网办, fully online).")
    def online_level(self) -> int:
        return self.record.online_level

    @strawberry.field(description="秒批 · Approved instantly, by data the government holds.")
    def instant(self) -> bool:
        return self.record.instant

    @strawberry.field(description="收费 · The fee; zero for most items.")
    def fee(self) -> Money:
        return Money(fen=self.record.fee_fen)

    @strawberry.field(description="Where it can be handled.")
    def channels(self) -> list[ServiceChannel]:
        return known(ServiceChannel, [c.value for c in self.record.channels])

    @strawberry.field(description="申请材料 · What to bring (or what the hub holds already).")
    def materials(self) -> list[ServiceMaterial]:
        return [material_of(material) for material in self.record.materials]

    @strawberry.field(description="The life stages it is filed under.")
    def life_stages(self) -> list[LifeStage]:
        return known(LifeStage, self.record.life_stages)

    @strawberry.field(description="The special groups it is for.")
    def groups(self) -> list[ServiceGroup]:
        return known(ServiceGroup, self.record.groups)

    @strawberry.field(description="When the catalogue last changed it.")
    def updated_at(self) -> dt.datetime:
        return self.record.updated_at

    @strawberry.field(
        description="办理地点 · Where it can be done: hall, street and community centres, "
        "24-hour kiosks, bank windows; the resident's own first (under `me`), then nearest "
        "first when `near` is given."
    )
    async def places(
        self, info: HubInfo, near: Location | None = None, first: int = 10
    ) -> list[ServicePlace]:
        check_first(first)
        check_location(near)
        found = await places_of(info, self.record, near, self.resident_community)
        return found[:first]

    @strawberry.field(
        description="The bank branches whose government windows handle it (`bankWindows`), "
        "nearest first when `near` is given."
    )
    async def bank_branches(
        self, info: HubInfo, near: Location | None = None, first: int = 10
    ) -> list[BankBranch] | None:
        check_first(first)
        check_location(near)
        nodes = [branch_of(b, near) for b in await item_branches(info, self.record)]
        return (nearest_first(nodes) if near else nodes)[:first]


def item_of(record: Item, resident_community: CommunityProfile | None = None) -> ServiceItem:
    return ServiceItem(record=record, resident_community=resident_community)
