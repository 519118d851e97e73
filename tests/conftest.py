"""Shared fixtures: the mocks and the hub, running for real on loopback ports."""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hub.app import create_app
from hub.security.auth import DevKeys, issue_token
from hub.security.ratelimit import BucketPolicy
from hub.settings import DEV_DEPARTMENTS, Settings, department_policy
from hub.store.db import drop_tables, make_engine
from mocks.common.launcher import MockConfig
from mocks.registry import MOCKS
from schema.context import CallerKind
from tests.support import BackgroundMocks, LiveHub, MockAdmin

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True, scope="module")
def settled_heap() -> Iterator[None]:
    """Each module starts with what is alive frozen out of the garbage collector's way.

    One process runs every test: the mocks, hundreds of hubs, and the caches that outlive
    them (parsed documents, compiled statements) make a heap of a million objects and more,
    and a full collection walks all of it with every thread stopped: measured 1-3.6 s here,
    enough to run out a department's 5 s budget or a single-flight wait and fail a test
    that is right. A hub process freezes its start-up heap the same way (``gc_freeze``);
    here what the earlier modules left alive is frozen (after a collection, so that only
    live objects are), and each module's collections walk only its own objects."""
    gc.collect()
    gc.freeze()
    yield


@pytest.fixture(scope="session")
def mocks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundMocks]:
    running = BackgroundMocks(MOCKS, MockConfig(state_dir=tmp_path_factory.mktemp("mocks")))
    yield running
    running.close()


@pytest.fixture
def garbage(mocks: BackgroundMocks) -> Iterator[MockAdmin]:
    """The garbage mock's admin surface, with counters zeroed and no faults."""
    admin = MockAdmin(mocks.urls["garbage"])
    admin.clear_faults()
    admin.reset()
    yield admin
    admin.clear_faults()


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


def settings_for(mocks: BackgroundMocks, var_dir: Path) -> Callable[..., Settings]:
    """Settings for hubs wired to ``mocks``, each with its own SQLite file in ``var_dir``."""
    counter = iter(range(1_000_000))

    def build(*, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        environment = {f"HUB_{name.upper()}_URL": url for name, url in mocks.urls.items()}
        for bank in ("icbc", "ccb"):  # the keys the bank mocks issued to the hub
            keys = mocks.state_dir / "bank" / bank
            environment[f"HUB_{bank.upper()}_APP_PRIVATE_KEY"] = str(keys / "app-private.pem")
            environment[f"HUB_{bank.upper()}_BANK_PUBLIC_KEY"] = str(keys / "bank-public.pem")
        environment.update(env or {})
        database = var_dir / f"hub-{next(counter)}.db"
        settings = Settings(
            var_dir=var_dir,
            graphiql_dir=REPO / "var" / "graphiql",
            database_url=f"sqlite:///{database}",
            graphiql=False,
            # generous: the suite makes thousands of requests; tests of the limits set their own
            rate_limits={kind: BucketPolicy(kind.value, 100_000, 10_000.0) for kind in CallerKind},
            departments={name: department_policy(environment, name) for name in DEV_DEPARTMENTS},
            # one test process starts many hubs: freezing each one's garbage would keep it
            gc_freeze=False,
            gc_young_threshold=0,  # nor change the test process's collector
        )
        return settings.with_changes(**overrides)

    return build


@pytest.fixture(scope="session")
def make_settings(mocks: BackgroundMocks, var_dir: Path) -> Callable[..., Settings]:
    """Settings for a hub wired to the running mocks; keyword arguments override."""
    return settings_for(mocks, var_dir)


@pytest.fixture(scope="session")
def hub(make_settings: Callable[..., Settings]) -> Iterator[LiveHub]:
    """One hub for tests that only read; tests that count upstream calls use ``start_hub``."""
    live = LiveHub(create_app(make_settings()))
    yield live
    live.close()


@pytest.fixture
def start_hub(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveHub]]:
    """Start a fresh hub (empty caches) with optional settings overrides."""
    started: list[LiveHub] = []

    def start(**overrides: Any) -> LiveHub:
        live = LiveHub(create_app(make_settings(**overrides)))
        started.append(live)
        return live

    yield start
    for live in started:
        live.close()


@pytest.fixture(scope="session")
def token_for(var_dir: Path) -> Callable[..., str]:
    keys = DevKeys.load_or_create(var_dir / "keys")
    defaults = Settings()

    def make(resident_id: str, **kwargs: Any) -> str:
        return issue_token(
            keys, resident_id, issuer=defaults.jwt_issuer, audience=defaults.jwt_audience, **kwargs
        )

    return make


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """SQLite always; PostgreSQL too when HUB_TEST_DATABASE_URL is set (CI sets it)."""
    urls = [f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"]
    if os.environ.get("HUB_TEST_DATABASE_URL"):
        urls.append(os.environ["HUB_TEST_DATABASE_URL"])
    return urls


DATABASE_KINDS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])


@pytest.fixture(params=DATABASE_KINDS)
def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database, once on each engine: a SQLite file, or the PostgreSQL test
    database emptied."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    engine.dispose()
    yield url
