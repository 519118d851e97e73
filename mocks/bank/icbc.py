"""ICBC's dialect: English method and field names, batch queries of up to 20 keys.

=========================  =================================================================
``branch.list``            ``{district, page_no, page_size}`` → ``{branches, total}``; only
                           outlets with a government window; an empty district means all
``branch.queue.query``     ``{branch_nos}`` (1–20) → ``{queues}``: known outlets only, once
                           each, in branch_no order, not request order
``gov.item.list``          ``{page_no, page_size}`` → ``{items, total}`` (ICBC's share)
``gov.appointment.create`` ``{branch_no, item_code, date, slot, applicant_ref, mobile}``
``gov.appointment.query``  ``{appointment_nos}`` (1–20) → ``{appointments}``: known ones only,
                           in appointment_no order, each with its ``applicant_ref``
``gov.appointment.cancel`` ``{appointment_no}`` → ``{appointment_no, status: CANCELLED}``
=========================  =================================================================

Pages hold at most 50 rows (default 20). Batch sizes are recorded in ``/__admin/stats`` as
received, refused ones (over 20) included. Rules and codes: ``mocks.bank.booking``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mocks.bank.app import create_bank_app
from mocks.bank.booking import Appointment
from mocks.bank.branches import Branch
from mocks.bank.params import batch, batch_size, optional_text, page, paged, text
from mocks.bank.state import Call, Method
from mocks.common.admin import record_batch
from mocks.common.launcher import MockConfig


def create_icbc_app(config: MockConfig) -> web.Application:
    """The ICBC Shenzhen open API mock (dev port 8103)."""
    return create_bank_app(config, "icbc", METHODS)


def _branch(branch: Branch) -> dict[str, Any]:
    return {
        "branch_no": branch.branch_id,
        "branch_name": branch.name,
        "address": branch.address,
        "district": branch.district,
        "longitude": branch.longitude,
        "latitude": branch.latitude,
        "business_hours": branch.hours,
        "gov_window": branch.gov_window,
        "gov_items": list(branch.items),
    }


def _appointment(appointment: Appointment) -> dict[str, Any]:
    return {
        "appointment_no": appointment.number,
        "branch_no": appointment.branch_id,
        "item_code": appointment.item_code,
        "date": appointment.day.isoformat(),
        "slot": appointment.slot,
        "status": appointment.status,
        "applicant_ref": appointment.applicant_ref,
    }


def _batch(call: Call, name: str) -> list[str]:
    size = batch_size(call.biz, name)
    if size is not None:
        record_batch(call.request, size)
    return batch(call.biz, name)


def branch_list(call: Call) -> dict[str, Any]:
    district = optional_text(call.biz, "district")
    page_no, page_size = page(call.biz, "page_no", "page_size")
    rows = [
        branch
        for branch in call.bank.data.branches.values()
        if branch.gov_window and (not district or branch.district == district)
    ]
    return {"branches": [_branch(b) for b in paged(rows, page_no, page_size)], "total": len(rows)}


def queue_query(call: Call) -> dict[str, Any]:
    branches = call.bank.data.branches
    known = sorted({n for n in _batch(call, "branch_nos") if n in branches})
    now = call.bank.clock.now()
    queues = []
    for number in known:
        queue = branches[number].queue(call.bank.seed, now)
        queues.append(
            {
                "branch_no": number,
                "waiting": queue.waiting,
                "est_wait_min": queue.est_wait_min,
                "updated_at": queue.updated_at,
            }
        )
    return {"queues": queues}


def item_list(call: Call) -> dict[str, Any]:
    page_no, page_size = page(call.biz, "page_no", "page_size")
    items = call.bank.data.items
    rows = [
        {
            "item_code": item.code,
            "item_name": item.name,
            "department": item.department,
            "materials": list(item.materials),
            "assisted": item.assisted,
        }
        for item in paged(items, page_no, page_size)
    ]
    return {"items": rows, "total": len(items)}


def appointment_create(call: Call) -> dict[str, Any]:
    biz = call.biz
    appointment = call.bank.book.book(
        branch_id=text(biz, "branch_no"),
        item_code=text(biz, "item_code"),
        day_text=text(biz, "date"),
        slot=text(biz, "slot"),
        applicant_ref=text(biz, "applicant_ref"),
        mobile=text(biz, "mobile"),
    )
    fields = _appointment(appointment)
    del fields["applicant_ref"]
    return fields


def appointment_query(call: Call) -> dict[str, Any]:
    found = call.bank.book.find(_batch(call, "appointment_nos"))
    return {"appointments": [_appointment(a) for a in found]}


def appointment_cancel(call: Call) -> dict[str, Any]:
    appointment = call.bank.book.cancel(text(call.biz, "appointment_no"))
    return {"appointment_no": appointment.number, "status": appointment.status}


METHODS: dict[str, Method] = {
    "branch.list": branch_list,
    "branch.queue.query": queue_query,
    "gov.item.list": item_list,
    "gov.appointment.create": appointment_create,
    "gov.appointment.query": appointment_query,
    "gov.appointment.cancel": appointment_cancel,
}
