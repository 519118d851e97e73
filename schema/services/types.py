"""The catalogue's vocabulary (一网通办): life stages, groups, item types, channels, visits.

The enums' values are the catalogue's own codes (``birth``, ``ethnic_religious``, ``行政许可`` …),
so a record converts with ``LifeStage(code)``; a code the schema does not know yet is left out
rather than failing the item (``known``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import TypeVar

import strawberry

from connectors.catalogue.models import Channel, MaterialKind
from schema.context import HubInfo
from schema.links import DEFAULT_SIZE, ImageFormat, PageKind
from schema.qr import QR_CODE_DESCRIPTION, QrCode, QrFormat, qr_code_for

E = TypeVar("E", bound=Enum)


@strawberry.enum(description="人生阶段 · The nine life stages the catalogue files items under.")
class LifeStage(Enum):
    BIRTH = "birth"
    SCHOOL = "school"
    WORK = "work"
    HOUSING = "housing"
    MARRIAGE = "marriage"
    CHILDBIRTH = "childbirth"
    RETIREMENT = "retirement"
    FUNERAL = "funeral"
    WHOLE_LIFE = "whole_life"


LIFE_STAGE_NAMES: Mapping[LifeStage, str] = {
    LifeStage.BIRTH: "出生",
    LifeStage.SCHOOL: "入学",
    LifeStage.WORK: "就业",
    LifeStage.HOUSING: "住房",
    LifeStage.MARRIAGE: "婚姻",
    LifeStage.CHILDBIRTH: "生育",
    LifeStage.RETIREMENT: "退休",
    LifeStage.FUNERAL: "后事",
    LifeStage.WHOLE_LIFE: "全生命周期",
}


@strawberry.enum(description="特殊群体 · The groups with a zone of their own.")
class ServiceGroup(Enum):
    DISABLED = "disabled"
    ELDERLY = "elderly"
    FOREIGNERS = "foreigners"
    ETHNIC_RELIGIOUS = "ethnic_religious"
    STUDENTS = "students"


GROUP_NAMES: Mapping[ServiceGroup, str] = {
    ServiceGroup.DISABLED: "残疾人",
    ServiceGroup.ELDERLY: "老年人",
    ServiceGroup.FOREIGNERS: "境外人士",
    ServiceGroup.ETHNIC_RELIGIOUS: "民族宗教",
    ServiceGroup.STUDENTS: "学生",
}


@strawberry.enum(description="事项类型 · The kind of power an item exercises.")
class ItemType(Enum):
    LICENSING = "行政许可"
    BENEFIT = "行政给付"
    CONFIRMATION = "行政确认"
    PUBLIC_SERVICE = "公共服务"
    OTHER_POWER = "其他行政权力"


@strawberry.enum(description="办理渠道 · Where an item can be handled.")
class ServiceChannel(Enum):
    HALL = "hall"
    STREET = "street"
    COMMUNITY = "community"
    KIOSK_24H = "kiosk24h"
    BANK = "bank"

    @property
    def channel(self) -> Channel:
        return Channel(self.value)


@strawberry.enum(description="跑动次数 · How often a resident must go in person.")
class Visits(Enum):
    ZERO = strawberry.enum_value("zero", description="零跑动: done entirely online.")
    AT_MOST_ONCE = strawberry.enum_value("once", description="最多跑一次: one visit at most.")
    SEVERAL = strawberry.enum_value("several", description="More than one visit.")


def visits_of(count: int) -> Visits:
    return Visits.ZERO if count <= 0 else Visits.AT_MOST_ONCE if count == 1 else Visits.SEVERAL


@strawberry.enum(description="材料形式 · How a material is handed in.")
class MaterialForm(Enum):
    ORIGINAL = "original"
    COPY = "copy"
    E_LICENSE = strawberry.enum_value("e-license", description="电子证照: taken electronically.")


def material_form(kind: MaterialKind) -> MaterialForm:
    return MaterialForm(kind.value)


def known(kind: type[E], codes: Iterable[str]) -> list[E]:
    """The codes ``kind`` knows, as its members, in order; unknown codes are left out."""
    members = kind._value2member_map_
    return [member for code in codes if isinstance(member := members.get(code), kind)]


@strawberry.type(description="一段匹配 · A matched range: [start, end) character offsets.")
class TextRange:
    start: int
    end: int


@strawberry.type(description="搜索高亮 · Where a search matched in one field of an item.")
class SearchHighlight:
    field: str = strawberry.field(description="The item field: name, conditions …")
    text: str = strawberry.field(description="That field's value.")
    ranges: list[TextRange] = strawberry.field(description="The matched ranges, in order.")

    @strawberry.field(description="The matched substrings, in order.")
    def fragments(self) -> list[str]:
        return [self.text[r.start : r.end] for r in self.ranges]


@strawberry.type(description="实施部门 · A department implementing catalogue items.")
class ServiceDepartment:
    code: strawberry.ID = strawberry.field(description="E.g. 440303-GJJ.")
    name: str
    item_count: int | None = strawberry.field(
        description="How many items it implements (in `services.departments`; null on an item)."
    )


@strawberry.type(description="A life stage and how many items it carries.")
class LifeStageCount:
    code: LifeStage
    name: str = strawberry.field(description="Chinese name, e.g. 出生.")
    item_count: int


@strawberry.type(description="A special group and how many items are for it.")
class GroupCount:
    code: ServiceGroup
    name: str = strawberry.field(description="Chinese name, e.g. 老年人.")
    item_count: int


@strawberry.type(description="公共服务 · One of the district's public services and its link.")
class PublicService:
    id: strawberry.ID
    name: str
    category: str = strawberry.field(description="Category code, e.g. medical.")
    category_name: str = strawberry.field(description="Chinese name, e.g. 医疗.")
    link: str


@strawberry.type(description="政务公开 · A disclosure entry with its stable public URL.")
class Disclosure:
    id: strawberry.ID
    category: str = strawberry.field(description="Category code, e.g. budget.")
    category_name: str = strawberry.field(description="Chinese name, e.g. 财政预决算.")
    title: str
    url: str
    published_at: dt.datetime

    @strawberry.field(description=QR_CODE_DESCRIPTION)
    def qr_code(
        self, info: HubInfo, format: QrFormat = ImageFormat.SVG, size: int = DEFAULT_SIZE
    ) -> QrCode:
        return qr_code_for(info, PageKind.DISCLOSURE, self.id, format, size)


@strawberry.type(description="A disclosure category and how many entries it holds.")
class DisclosureCategory:
    code: str
    name: str
    entry_count: int
