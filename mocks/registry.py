"""Every mock the dev launcher starts: one line per department system."""

from __future__ import annotations

from mocks.common.launcher import MockSpec

MOCKS: tuple[MockSpec, ...] = (
    MockSpec("youth", 8101, "mocks.youth:create_app"),
    MockSpec("library", 8102, "mocks.library:create_app"),
    MockSpec("icbc", 8103, "mocks.bank:create_icbc_app"),
    MockSpec("ccb", 8104, "mocks.bank:create_ccb_app"),
    MockSpec("locks", 8105, "mocks.locks:create_app"),
    MockSpec("garbage", 8106, "mocks.garbage:create_app"),
    MockSpec("catalogue", 8107, "mocks.catalogue:create_app"),
)
