"""Records as tagged JSON (``connectors.codec``) and in-process leases: no Redis involved."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors import codec
from connectors.bank.models import Bank, Branch, Queue
from connectors.garbage.models import BinCategory
from connectors.shared import InProcessLeases
from connectors.youth.models import Course, CourseStatus, EnrollmentMode, Schedule

CHINA = dt.timezone(dt.timedelta(hours=8))
COURSE = Course(
    id="YC2026S-0012", name="少儿国画（初级）", category="书画", term="2026-spring",
    age_min=6, age_max=9, schedule=Schedule(6, "09:00", "10:30"),
    start_date=dt.date(2026, 3, 7), sessions=12, venue="301", teacher="王老师", fee_fen=48000,
    material_fee_fen=0, capacity=20, enrolled=3, mode=EnrollmentMode.LOTTERY,
    prereg_open=dt.datetime(2026, 1, 5, 9, 0, tzinfo=CHINA), prereg_close=None,
    lottery_at=None, status=CourseStatus.PRE_REG,
)  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        COURSE,
        (
            Branch(
                Bank.CCB, "wd1", "罗湖支行", "深南东路", "罗湖区", 114.1, 22.5, "9-17", ("SB-0001",)
            ),
        ),
        {"4000101": Queue(Bank.ICBC, "4000101", 3, 12, dt.datetime(2026, 1, 1, tzinfo=CHINA))},
        [BinCategory.RECYCLABLE, None, 1.5, True, "文本"],
    ],
)
def test_records_come_back_equal_and_typed(value: object) -> None:
    # when a record goes through the codec
    back = codec.decode(codec.encode(value))
    # then it is equal, with the same types all the way down (tuples stay tuples)
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize(
    "data",
    [
        b'{"@": "os.system", "f": {}}',
        b'{"@": "subprocess.Popen", "f": {"args": "id"}}',
        b'{"@": "connectors.bank.models.signing", "f": {}}',
        b'{"@e": "connectors.youth.models.Course", "v": "x"}',
        b'{"@": "connectors.youth.models.Course", "f": {"id": 1}}',
        b'{"@x": 1}',
        b"not json",
    ],
)
def test_anything_but_our_own_records_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError):
        codec.decode(data)


def test_values_that_are_not_records_are_not_encoded() -> None:
    with pytest.raises(TypeError):
        codec.encode({"a": object()})
    with pytest.raises(TypeError):
        codec.encode(dt.timedelta(1))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_in_process_leases_have_one_owner_until_they_expire() -> None:
    clock = Clock()
    leases = InProcessLeases(clock)
    assert await leases.acquire("scan", "a", 10)
    assert not await leases.acquire("scan", "b", 10)
    assert not await leases.renew("scan", "b", 10)
    assert not await leases.release("scan", "b")
    clock.now = 9.0
    assert await leases.renew("scan", "a", 10)
    clock.now = 18.0
    assert not await leases.acquire("scan", "b", 10), "renewed until 19"
    clock.now = 19.5
    assert await leases.acquire("scan", "b", 10)
    assert not await leases.renew("scan", "a", 10)
    assert await leases.release("scan", "b")
    assert await leases.acquire("scan", "a", 10)
