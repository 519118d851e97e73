"""Helpers for the government departments' connector tests: one mock per module, its cases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.base import DepartmentPolicy
from hub.settings import DEV_DEPARTMENTS
from mocks.common.launcher import MockConfig
from mocks.registry import MOCKS
from tests.support import BackgroundMocks, MockAdmin


def start_mock(
    name: str, tmp_path_factory: pytest.TempPathFactory, **config: Any
) -> BackgroundMocks:
    """The registered mock ``name`` alone, on a free port (its state is the module's own);
    ``config``: other ``MockConfig`` fields (``population``, ``as_of``)."""
    spec = next(spec for spec in MOCKS if spec.name == name)
    state_dir = tmp_path_factory.mktemp(name)
    return BackgroundMocks((spec,), MockConfig(state_dir=state_dir, **config))


def fresh_admin(url: str) -> MockAdmin:
    admin = MockAdmin(url)
    admin.clear_faults()
    admin.reset()
    return admin


def cases(url: str) -> dict[str, dict[str, Any]]:
    """``GET /__admin/cases``: the population's boundary cases by name."""
    found: dict[str, dict[str, Any]] = httpx.get(f"{url}/__admin/cases").json()["cases"]
    return found


def set_rate_limit(url: str, per_second: int) -> None:
    httpx.post(f"{url}/__admin/rate-limit", json={"per_second": per_second}).raise_for_status()


def policy(name: str, url: str, **changes: Any) -> DepartmentPolicy:
    """The department's dev credentials (``hub.settings``), a 5 s budget, and ``changes``."""
    credentials = dict(DEV_DEPARTMENTS[name][1])
    credentials.update(changes.pop("credentials", {}))
    return DepartmentPolicy(base_url=url, timeout_s=5.0, credentials=credentials, **changes)
