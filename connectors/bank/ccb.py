"""CCB's dialect: pinyin-abbreviation field names, one branch or appointment per call.

==================  ======================================================================
``wd.list``         ``{qx, ym, mys}`` → ``{wd_list, zs}``, outlets without a government
                    window too (``zwzc: "N"``), which the hub leaves out
``wd.pdxx``         ``{wd_id}`` → ``{wd_id, ddrs, yjsc, gxsj}``
``zw.sx.list``      ``{ym, mys}`` → ``{sx_list: [{sx_bm, sx_mc, bm, cl}], zs}``
``zw.yy.create``    ``{wd_id, sx_bm, rq, sd, sqr, sj}`` → ``{yy_bh, zt: "YYY"}``
``zw.yy.cx``        ``{yy_bh}`` → ``{yy_bh, wd_id, sx_bm, rq, sd, zt}``
``zw.yy.cancel``    ``{yy_bh}`` → ``{yy_bh, zt: "YQX"}``
==================  ======================================================================

Glossary: wd 网点 branch, mc 名称 name, dz 地址 address, qx 区县 district, jd/wd 经度/纬度,
yysj 营业时间 hours, zwzc 政务支持 government window, sx 事项 item, bm 部门 department,
cl 材料 materials, ddrs 等待人数 waiting, yjsc 预计时长 minutes, gxsj 更新时间 updated,
rq 日期, sd 时段 slot, sqr 申请人, sj 手机, yy_bh 预约编号, zt 状态. An unknown branch or
appointment (``400024``) is left out of the answer. The mapping functions are pure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeVar

from connectors.bank import protocol
from connectors.bank.client import BankConnector, Booking
from connectors.bank.models import Appointment, AppointmentStatus, Bank, Branch, GovItem, Queue
from connectors.errors import Refused, UpstreamPayloadError
from connectors.payload import Fields

DEPARTMENT = "ccb"
DISTRICT = "罗湖区"
ZT: Mapping[str, AppointmentStatus] = MappingProxyType(
    {
        "YYY": AppointmentStatus.BOOKED,
        "YBL": AppointmentStatus.SERVED,
        "YQX": AppointmentStatus.CANCELLED,
        "SY": AppointmentStatus.NO_SHOW,
    }
)
"""CCB's ``zt`` → the shared appointment status."""

T = TypeVar("T")


def _texts(values: Sequence[object], record: str) -> tuple[str, ...]:
    if not all(isinstance(value, str) for value in values):
        raise UpstreamPayloadError(DEPARTMENT, f"{record}: expected strings")
    return tuple(str(value) for value in values)


def _status(value: str) -> AppointmentStatus:
    if value not in ZT:
        raise UpstreamPayloadError(DEPARTMENT, f"zt: unknown {value!r}")
    return ZT[value]


def branch(payload: object) -> Branch:
    f = Fields(payload, DEPARTMENT, "wd")
    return Branch(
        bank=Bank.CCB,
        id=f.text("wd_id"),
        name=f.text("wd_mc"),
        address=f.text("dz"),
        district=f.text("qx"),
        longitude=f.number("jd"),
        latitude=f.number("wd"),
        hours=f.text("yysj"),
        item_codes=_texts(f.opt_array("sx_list"), "wd.sx_list"),
    )


def branches(rows: Sequence[object]) -> tuple[Branch, ...]:
    """The outlets with a government window (``zwzc: "Y"``)."""
    return tuple(branch(row) for row in rows if Fields(row, DEPARTMENT, "wd").text("zwzc") == "Y")


def queue(payload: object) -> Queue:
    f = Fields(payload, DEPARTMENT, "pdxx")
    try:
        updated = protocol.parse_stamp(f.text("gxsj"))
    except ValueError as exc:
        raise UpstreamPayloadError(DEPARTMENT, "pdxx.gxsj: not a bank timestamp") from exc
    return Queue(
        bank=Bank.CCB,
        branch_id=f.text("wd_id"),
        waiting=f.integer("ddrs"),
        estimated_wait_minutes=f.integer("yjsc"),
        updated_at=updated,
    )


def item(payload: object) -> GovItem:
    f = Fields(payload, DEPARTMENT, "sx")
    return GovItem(
        code=f.text("sx_bm"),
        name=f.text("sx_mc"),
        department=f.text("bm"),
        materials=_texts(f.opt_array("cl"), "sx.cl"),
    )


def items(rows: Sequence[object]) -> tuple[GovItem, ...]:
    return tuple(item(row) for row in rows)


def appointment(payload: object) -> Appointment:
    f = Fields(payload, DEPARTMENT, "yy")
    return Appointment(
        bank=Bank.CCB,
        number=f.text("yy_bh"),
        branch_id=f.text("wd_id"),
        item_code=f.text("sx_bm"),
        date=f.day("rq"),
        slot=f.text("sd"),
        status=_status(f.text("zt")),
    )


def create_biz(wanted: Booking) -> dict[str, str]:
    """``zw.yy.create``'s ``biz_content``."""
    return {
        "wd_id": wanted.branch_id,
        "sx_bm": wanted.item_code,
        "rq": wanted.day.isoformat(),
        "sd": wanted.slot,
        "sqr": wanted.applicant_ref,
        "sj": wanted.mobile,
    }


def created(payload: Mapping[str, Any], wanted: Booking) -> Appointment:
    """The new appointment: CCB answers only its number and status, the rest is ours."""
    f = Fields(payload, DEPARTMENT, "yy")
    return Appointment(
        bank=Bank.CCB,
        number=f.text("yy_bh"),
        branch_id=wanted.branch_id,
        item_code=wanted.item_code,
        date=wanted.day,
        slot=wanted.slot,
        status=_status(f.text("zt")),
    )


def cancelled(payload: Mapping[str, Any], number: str) -> None:
    """Check that a cancellation answer names ``number`` as cancelled (``YQX``)."""
    f = Fields(payload, DEPARTMENT, "yy")
    status = _status(f.text("zt"))
    if f.text("yy_bh") != number or status is not AppointmentStatus.CANCELLED:
        raise UpstreamPayloadError(DEPARTMENT, f"cancellation of {number} not confirmed")


class CcbConnector(BankConnector):
    """建设银行深圳分行's open API: branches, items, queues and appointments."""

    department = DEPARTMENT
    bank = Bank.CCB

    async def _fetch_branches(self) -> tuple[Branch, ...]:
        rows = await self._pages("wd.list", {"qx": DISTRICT}, ("ym", "mys", "wd_list", "zs"))
        return self._map(branches, rows)

    async def _fetch_items(self) -> tuple[GovItem, ...]:
        rows = await self._pages("zw.sx.list", {}, ("ym", "mys", "sx_list", "zs"))
        return self._map(items, rows)

    async def _fetch_queues(self, branch_ids: list[str]) -> dict[str, Queue]:
        return await self._each("wd.pdxx", "wd_id", branch_ids, queue)

    async def _create(self, wanted: Booking, msg_id: str) -> Appointment:
        answer = await self._call("zw.yy.create", create_biz(wanted), msg_id=msg_id, booking=True)
        return self._map(lambda payload: created(payload, wanted), answer)

    async def _fetch_appointments(self, numbers: list[str]) -> dict[str, Appointment]:
        return await self._each("zw.yy.cx", "yy_bh", numbers, appointment)

    async def _cancel(self, number: str, msg_id: str) -> None:
        answer = await self._call("zw.yy.cancel", {"yy_bh": number}, msg_id=msg_id)
        self._map(lambda payload: cancelled(payload, number), answer)

    async def _each(
        self, method: str, field: str, keys: list[str], to_record: Callable[[object], T]
    ) -> dict[str, T]:
        """One call per key, concurrently (the base semaphore caps calls in flight)."""
        answers = await asyncio.gather(*(self._one(method, field, key, to_record) for key in keys))
        return {key: found for key, found in zip(keys, answers, strict=True) if found is not None}

    async def _one(
        self, method: str, field: str, key: str, to_record: Callable[[object], T]
    ) -> T | None:
        """The record for ``key``, or ``None`` when the bank does not know it (``400024``)."""
        try:
            answer = await self._call(method, {field: key})
        except Refused as refusal:
            if refusal.code == "NOT_FOUND":
                return None
            raise
        if answer.get(field) != key:
            raise self.payload_error(f"{method}: answer about another {field}")
        return self._map(to_record, answer)
