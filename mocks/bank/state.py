"""What a running bank keeps on its aiohttp application, and the shape of one API method."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from mocks.bank.booking import AppointmentBook
from mocks.bank.clock import BankClock
from mocks.bank.data import BankData
from mocks.bank.keys import BankKeys
from mocks.bank.limits import Gate
from mocks.bank.replay import ReplayStore


@dataclass
class BankState:
    """One bank: keys, clock, data, bookings, limits, replays and its dialect's methods."""

    name: str
    seed: int
    keys: BankKeys
    clock: BankClock
    data: BankData
    book: AppointmentBook
    gate: Gate
    replays: ReplayStore
    methods: Mapping[str, Method]


@dataclass(frozen=True)
class Call:
    """One verified API call as a method sees it: the bank, the parsed biz_content, the request."""

    bank: BankState
    biz: Mapping[str, Any]
    request: web.Request


# a method returns the answer's fields besides return_code / return_msg, or raises BankRefusal
Method = Callable[[Call], dict[str, Any]]

BANK_KEY = web.AppKey("bank_state", BankState)
