"""The catalogue copy as operators see it: /status and /metrics of a running hub, and
``ihub catalogue sync`` (SQLite and PostgreSQL)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from hub.store import catalogue as store
from hub.store.db import make_engine
from mocks.common.launcher import MockConfig
from tests.catalogue_copies import DATABASES, PAGES, SPEC, TOTAL, database_url, fresh_engine
from tests.support import BackgroundMocks, LiveHub, MockAdmin

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    mocks = BackgroundMocks((SPEC,), MockConfig(state_dir=tmp_path_factory.mktemp("catalogue")))
    yield mocks
    mocks.close()


@pytest.fixture
def catalogue(running: BackgroundMocks) -> Iterator[MockAdmin]:
    admin = MockAdmin(running.urls["catalogue"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


def status_until(hub: LiveHub, holds: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """Poll the hub's /status (another thread's work) until ``holds``, within a deadline."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body: dict[str, Any] = hub.client.get("/status").json()
        if holds(body["catalogue"]):
            return body["catalogue"]
        time.sleep(0.05)
    raise AssertionError(f"catalogue status never held: {body['catalogue']}")


def test_status_and_metrics_show_the_catalogue_sync(
    start_hub: Callable[..., LiveHub], catalogue: MockAdmin
) -> None:
    # given a hub started on an empty database
    hub = start_hub(env={"HUB_CATALOGUE_URL": catalogue.url})
    # when its background fill has run
    status = status_until(hub, lambda c: c["items"] == TOTAL and c["lastSuccessAt"] is not None)
    # then /status says so, and who refreshes
    assert status["leader"] is True and status["stale"] is False
    assert status["lastFullSyncAt"] is not None and status["changesUntil"] is not None
    assert status["lastError"] is None and status["lagSeconds"] >= 0
    assert status["indexBuildSeconds"] > 0
    assert catalogue.calls(PAGES) == 13
    # and /metrics carries the same figures
    metrics = hub.client.get("/metrics").text
    assert f"ihub_catalogue_items {float(TOTAL)}" in metrics
    assert 'ihub_catalogue_sync_total{kind="full",outcome="ok"} 1.0' in metrics
    assert "ihub_catalogue_stale 0.0" in metrics
    assert "ihub_catalogue_lag_seconds " in metrics


def test_an_outage_shows_in_status_and_metrics(
    start_hub: Callable[..., LiveHub], catalogue: MockAdmin
) -> None:
    hub = start_hub(env={"HUB_CATALOGUE_URL": catalogue.url}, catalogue_refresh_s=0.2)
    status_until(hub, lambda c: c["items"] == TOTAL)
    # when the catalogue goes down
    catalogue.faults(down=True)
    status = status_until(hub, lambda c: c["stale"] is True)
    # then the copy still holds every item, and the error is there to read
    assert status["items"] == TOTAL
    assert "UpstreamUnavailable" in status["lastError"]
    metrics = hub.client.get("/metrics").text
    assert "ihub_catalogue_stale 1.0" in metrics
    assert 'ihub_catalogue_sync_total{kind="changes",outcome="error"}' in metrics
    # and when it is back, the next refresh clears it
    catalogue.clear_faults()
    status = status_until(hub, lambda c: c["stale"] is False)
    assert status["lastError"] is None


def ihub_sync(url: str, catalogue: MockAdmin, var: Path, **kwargs: Any) -> Any:
    environment = {
        **os.environ,
        "HUB_VAR_DIR": str(var),
        "HUB_DATABASE_URL": url,
        "HUB_CATALOGUE_URL": catalogue.url,
        "HUB_SEED_DATABASE": "false",
    }
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", "catalogue", "sync"],
        cwd=REPO,
        env=environment,
        timeout=120,
        **kwargs,
    )


@pytest.mark.parametrize("kind", DATABASES)
def test_ihub_catalogue_sync_runs_one_full_sync(
    kind: str, catalogue: MockAdmin, tmp_path: Path
) -> None:
    url = database_url(kind, tmp_path)
    fresh_engine(url).dispose()
    done = ihub_sync(url, catalogue, tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"catalogue synced: {TOTAL} items" in done.stdout
    assert "scenarios, 43 public services" in done.stdout
    assert catalogue.calls(PAGES) == 13
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            assert store.active_count(session) == TOTAL
            state = store.read_state(session)
            assert state.full_synced_at is not None and state.changes_until is not None
            # given a hub holding the refresh lease
            assert store.take_lease(session, "a-running-hub", now=datetime.now(UTC), ttl_s=600)
    finally:
        engine.dispose()
    catalogue.reset()
    # then the command says who refreshes, and leaves the catalogue alone
    refused = ihub_sync(url, catalogue, tmp_path, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "being refreshed by a-running-hub" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert catalogue.total() == 0


def test_ihub_catalogue_sync_draws_a_progress_bar_on_a_terminal(
    catalogue: MockAdmin, tmp_path: Path
) -> None:
    url = database_url("sqlite", tmp_path)
    primary, secondary = pty.openpty()
    # a terminal has a size (a new pty has none, and tqdm draws nothing 0 columns wide)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = ihub_sync(url, catalogue, tmp_path, stdout=subprocess.PIPE, stderr=secondary)
        os.close(secondary)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the terminal's other end is closed: all read
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    assert done.returncode == 0
    assert "catalogue items" in drawn.decode() and "13/13" in drawn.decode()


def test_a_failed_sync_exits_1_and_says_why(catalogue: MockAdmin, tmp_path: Path) -> None:
    catalogue.faults(down=True)
    done = ihub_sync(
        database_url("sqlite", tmp_path), catalogue, tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "catalogue sync failed" in done.stderr and "Traceback" not in done.stderr
