"""CCB's dialect: pinyin-abbreviation names from its core systems, one key per call.

==================  =========================================================================
``wd.list``         ``{qx, ym, mys}`` → ``{wd_list, zs}``: every outlet in the district,
                    those without a government window too (``zwzc: "N"``, empty ``sx_list``)
``wd.pdxx``         ``{wd_id}`` → ``{wd_id, ddrs, yjsc, gxsj}`` (waiting, minutes, updated)
``zw.sx.list``      ``{ym, mys}`` → ``{sx_list: [{sx_bm, sx_mc, bm, cl}], zs}`` (CCB's share)
``zw.yy.create``    ``{wd_id, sx_bm, rq, sd, sqr, sj}`` → ``{yy_bh, zt: "YYY"}``
``zw.yy.cx``        ``{yy_bh}`` → ``{yy_bh, wd_id, sx_bm, rq, sd, zt, sqr}``
``zw.yy.cancel``    ``{yy_bh}`` → ``{yy_bh, zt: "YQX"}``
==================  =========================================================================

Glossary: wd 网点 outlet, mc 名称 name, dz 地址 address, qx 区县 district, jd/wd 经度/纬度,
yysj 营业时间 hours, zwzc 政务支持 has a government window, sx 事项 item, bm 部门 department,
cl 材料 materials, rq 日期 date, sd 时段 slot, sqr 申请人 applicant ref, sj 手机 mobile,
yy_bh 预约编号, zt 状态: YYY 已预约 booked, YBL 已办理 served, YQX 已取消 cancelled, SY 失约
missed. ym/mys page number/size (≤ 50, default 20), zs total. Unknown outlet or appointment
``400024``; rules and codes: ``mocks.bank.booking``. Dates ``yyyy-MM-dd``, slots ``HH:MM-HH:MM``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mocks.bank.app import create_bank_app
from mocks.bank.booking import BOOKED, CANCELLED, NO_SHOW, SERVED, Appointment
from mocks.bank.codes import NOT_FOUND, BankRefusal
from mocks.bank.params import optional_text, page, paged, text
from mocks.bank.state import Call, Method
from mocks.common.launcher import MockConfig

ZT = {BOOKED: "YYY", SERVED: "YBL", CANCELLED: "YQX", NO_SHOW: "SY"}


def create_ccb_app(config: MockConfig) -> web.Application:
    """The CCB Shenzhen open API mock (dev port 8104)."""
    return create_bank_app(config, "ccb", METHODS)


def _appointment(call: Call, name: str) -> Appointment:
    number = text(call.biz, name)
    appointment = call.bank.book.get(number)
    if appointment is None:
        raise BankRefusal(NOT_FOUND, f"预约不存在: {number}")
    return appointment


def wd_list(call: Call) -> dict[str, Any]:
    qx = optional_text(call.biz, "qx")
    page_no, page_size = page(call.biz, "ym", "mys")
    rows = [b for b in call.bank.data.branches.values() if not qx or b.district == qx]
    wd_rows = [
        {
            "wd_id": b.branch_id,
            "wd_mc": b.name,
            "dz": b.address,
            "qx": b.district,
            "jd": b.longitude,
            "wd": b.latitude,
            "yysj": b.hours,
            "zwzc": "Y" if b.gov_window else "N",
            "sx_list": list(b.items),
        }
        for b in paged(rows, page_no, page_size)
    ]
    return {"wd_list": wd_rows, "zs": len(rows)}


def wd_pdxx(call: Call) -> dict[str, Any]:
    wd_id = text(call.biz, "wd_id")
    branch = call.bank.data.branches.get(wd_id)
    if branch is None:
        raise BankRefusal(NOT_FOUND, f"网点不存在: {wd_id}")
    queue = branch.queue(call.bank.seed, call.bank.clock.now())
    return {
        "wd_id": wd_id,
        "ddrs": queue.waiting,
        "yjsc": queue.est_wait_min,
        "gxsj": queue.updated_at,
    }


def sx_list(call: Call) -> dict[str, Any]:
    page_no, page_size = page(call.biz, "ym", "mys")
    items = call.bank.data.items
    rows = [
        {"sx_bm": item.code, "sx_mc": item.name, "bm": item.department, "cl": list(item.materials)}
        for item in paged(items, page_no, page_size)
    ]
    return {"sx_list": rows, "zs": len(items)}


def yy_create(call: Call) -> dict[str, Any]:
    biz = call.biz
    appointment = call.bank.book.book(
        branch_id=text(biz, "wd_id"),
        item_code=text(biz, "sx_bm"),
        day_text=text(biz, "rq"),
        slot=text(biz, "sd"),
        applicant_ref=text(biz, "sqr"),
        mobile=text(biz, "sj"),
    )
    return {"yy_bh": appointment.number, "zt": ZT[appointment.status]}


def yy_cx(call: Call) -> dict[str, Any]:
    a = _appointment(call, "yy_bh")
    return {
        "yy_bh": a.number,
        "wd_id": a.branch_id,
        "sx_bm": a.item_code,
        "rq": a.day.isoformat(),
        "sd": a.slot,
        "zt": ZT[a.status],
        "sqr": a.applicant_ref,
    }


def yy_cancel(call: Call) -> dict[str, Any]:
    appointment = call.bank.book.cancel(text(call.biz, "yy_bh"))
    return {"yy_bh": appointment.number, "zt": ZT[appointment.status]}


METHODS: dict[str, Method] = {
    "wd.list": wd_list,
    "wd.pdxx": wd_pdxx,
    "zw.sx.list": sx_list,
    "zw.yy.create": yy_create,
    "zw.yy.cx": yy_cx,
    "zw.yy.cancel": yy_cancel,
}
