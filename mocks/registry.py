"""Every mock the dev launcher starts: one line per department system, at base port + offset."""

from __future__ import annotations

from mocks.common.launcher import MockSpec

MOCKS: tuple[MockSpec, ...] = (
    MockSpec("youth", 1, "mocks.youth:create_app"),
    MockSpec("library", 2, "mocks.library:create_app"),
    MockSpec("icbc", 3, "mocks.bank:create_icbc_app"),
    MockSpec("ccb", 4, "mocks.bank:create_ccb_app"),
    MockSpec("locks", 5, "mocks.locks:create_app"),
    MockSpec("garbage", 6, "mocks.garbage:create_app"),
    MockSpec("catalogue", 7, "mocks.catalogue:create_app"),
    MockSpec("population", 8, "mocks.population:create_app"),
    MockSpec("civil", 9, "mocks.civil:create_app"),
    MockSpec("hrss", 10, "mocks.hrss:create_app"),
    MockSpec("credentials", 11, "mocks.credentials:create_app"),
    MockSpec("sms", 12, "mocks.sms:create_app"),
    MockSpec("wechat", 13, "mocks.wechat:create_app"),
)
