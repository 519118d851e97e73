"""Assembling one bank's application: admin surface, keys, data, gateway and its methods."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from mocks.bank.admin import install_bank_admin
from mocks.bank.booking import AppointmentBook
from mocks.bank.clock import BankClock
from mocks.bank.data import APPOINTMENT_PREFIX, build_bank_data, seed_appointments
from mocks.bank.keys import load_or_create_keys
from mocks.bank.limits import Gate, Limits
from mocks.bank.protocol import API_PREFIX, handle_api
from mocks.bank.replay import ReplayStore
from mocks.bank.state import BANK_KEY, BankState, Method
from mocks.common.admin import install_admin
from mocks.common.launcher import MockConfig


def create_bank_app(
    config: MockConfig, bank: str, methods: Mapping[str, Method]
) -> web.Application:
    """``bank`` (``"icbc"`` or ``"ccb"``) speaking the dialect ``methods``, seeded as of now."""
    app = web.Application()
    install_admin(app, seed=config.seed)
    clock = BankClock()
    data = build_bank_data(bank, config.seed)
    book = AppointmentBook(data.branches, clock, APPOINTMENT_PREFIX[bank])
    seed_appointments(book, data, bank, config.seed, clock.today())
    app[BANK_KEY] = BankState(
        name=bank,
        seed=config.seed,
        keys=load_or_create_keys(config.state_dir, bank),
        clock=clock,
        data=data,
        book=book,
        gate=Gate(Limits()),
        replays=ReplayStore(),
        methods=methods,
    )
    install_bank_admin(app)
    # one route per method so /__admin/stats counts each method apart
    for name in methods:
        app.router.add_post(f"{API_PREFIX}{name}", handle_api)
    app.router.add_post(API_PREFIX + "{method}", handle_api)
    return app
