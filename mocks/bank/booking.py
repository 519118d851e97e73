"""Appointments at government windows: the rules both banks apply, in one place.

- A booking's date runs from tomorrow to 14 days ahead on the bank's clock (Asia/Shanghai),
  else ``400011`` ("预约日期须为明日起14日内").
- A slot is a half hour ``"HH:MM-HH:MM"`` inside the outlet's hours (``"09:00-09:30"``), else
  ``400011``. Each (outlet, date, slot) takes ``SLOT_CAPACITY`` (4) appointments that are not
  cancelled; the fifth gets ``400021``.
- The outlet must handle the item, else ``400023``; unknown outlet ``400024``.
- ``mobile`` is 11 digits starting with 1; ``applicant_ref`` is the hub's opaque keyed hash of
  the resident (1–64 characters), never an ID number.
- Cancelling works while BOOKED and before the slot begins; otherwise ``400022``.
- Statuses move BOOKED → SERVED | NO_SHOW only through ``POST /__admin/appointments/{no}/status``;
  nothing expires on its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from mocks.bank.branches import Branch
from mocks.bank.clock import SHANGHAI, BankClock, parse_day
from mocks.bank.codes import (
    ITEM_NOT_HANDLED,
    NOT_CANCELLABLE,
    NOT_FOUND,
    SLOT_FULL,
    BankRefusal,
    bad_parameter,
)

SLOT_CAPACITY = 4
BOOKING_DAYS = 14
BOOKED, SERVED, CANCELLED, NO_SHOW = "BOOKED", "SERVED", "CANCELLED", "NO_SHOW"
STATUSES = (BOOKED, SERVED, CANCELLED, NO_SHOW)
_MOBILE = re.compile(r"1\d{10}")


@dataclass
class Appointment:
    """One booking, in the banks' shared vocabulary (CCB renames the fields and statuses)."""

    number: str
    branch_id: str
    item_code: str
    day: date
    slot: str
    applicant_ref: str
    mobile: str
    status: str = BOOKED

    def starts(self) -> datetime:
        hour, minute = self.slot[:5].split(":")
        return datetime(
            self.day.year, self.day.month, self.day.day, int(hour), int(minute), tzinfo=SHANGHAI
        )


class AppointmentBook:
    """Every appointment of one bank, numbered ``prefix`` + 8 digits from 1."""

    def __init__(self, branches: Mapping[str, Branch], clock: BankClock, prefix: str) -> None:
        self._branches = branches
        self._clock = clock
        self._prefix = prefix
        self._by_number: dict[str, Appointment] = {}
        self._taken: Counter[tuple[str, date, str]] = Counter()

    def get(self, number: str) -> Appointment | None:
        return self._by_number.get(number)

    def find(self, numbers: Iterable[str]) -> list[Appointment]:
        """The known ones among ``numbers``, once each, in number order (not request order)."""
        found = {n: a for n in numbers if (a := self._by_number.get(n)) is not None}
        return [found[n] for n in sorted(found)]

    def book(
        self,
        branch_id: str,
        item_code: str,
        day_text: str,
        slot: str,
        applicant_ref: str,
        mobile: str,
    ) -> Appointment:
        """A new BOOKED appointment, or a ``BankRefusal`` naming the rule broken."""
        branch = self._branches.get(branch_id)
        if branch is None:
            raise BankRefusal(NOT_FOUND, f"网点不存在: {branch_id}")
        if not 1 <= len(applicant_ref) <= 64:
            raise bad_parameter("申请人标识须为1至64个字符")
        if not _MOBILE.fullmatch(mobile):
            raise bad_parameter("手机号码须为11位数字")
        day = parse_day(day_text)
        if day is None:
            raise bad_parameter(f"预约日期格式须为yyyy-MM-dd: {day_text}")
        today = self._clock.today()
        if not today + timedelta(days=1) <= day <= today + timedelta(days=BOOKING_DAYS):
            raise bad_parameter(f"预约日期须为明日起{BOOKING_DAYS}日内: {day_text}")
        if item_code not in branch.item_set:
            raise BankRefusal(ITEM_NOT_HANDLED, f"该网点不受理此事项: {item_code}")
        if slot not in branch.slots:
            raise bad_parameter(f"预约时段不在网点营业时间 {branch.hours} 内: {slot}")
        if self._taken[(branch_id, day, slot)] >= SLOT_CAPACITY:
            raise BankRefusal(SLOT_FULL, f"该时段已约满: {day_text} {slot}")
        return self.add(branch_id, item_code, day, slot, applicant_ref, mobile)

    def add(
        self,
        branch_id: str,
        item_code: str,
        day: date,
        slot: str,
        applicant_ref: str,
        mobile: str,
        status: str = BOOKED,
    ) -> Appointment:
        """Record an appointment without checking the rules (the seed uses it for history)."""
        number = f"{self._prefix}{len(self._by_number) + 1:08d}"
        appointment = Appointment(
            number, branch_id, item_code, day, slot, applicant_ref, mobile, status
        )
        self._by_number[number] = appointment
        if status != CANCELLED:
            self._taken[(branch_id, day, slot)] += 1
        return appointment

    def cancel(self, number: str) -> Appointment:
        appointment = self._existing(number)
        if appointment.status != BOOKED:
            raise BankRefusal(NOT_CANCELLABLE, f"预约状态为{appointment.status}，不可取消")
        if appointment.starts() <= self._clock.now():
            raise BankRefusal(NOT_CANCELLABLE, "预约时段已开始，不可取消")
        appointment.status = CANCELLED
        self._taken[(appointment.branch_id, appointment.day, appointment.slot)] -= 1
        return appointment

    def settle(self, number: str, status: str) -> Appointment:
        """Move a BOOKED appointment to SERVED or NO_SHOW (the admin surface)."""
        if status not in (SERVED, NO_SHOW):
            raise bad_parameter("status 须为 SERVED 或 NO_SHOW")
        appointment = self._existing(number)
        if appointment.status != BOOKED:
            raise BankRefusal(NOT_CANCELLABLE, f"预约状态为{appointment.status}，不可变更")
        appointment.status = status
        return appointment

    def _existing(self, number: str) -> Appointment:
        appointment = self._by_number.get(number)
        if appointment is None:
            raise BankRefusal(NOT_FOUND, f"预约不存在: {number}")
        return appointment
