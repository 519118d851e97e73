"""The hub's own tables on SQLite and, when HUB_TEST_DATABASE_URL is set, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from hub.store.db import Database, create_tables, drop_tables, make_engine
from hub.store.directory import SqlResidentDirectory
from hub.store.models import AccountLink, Community, Household, HouseholdChild, Resident
from hub.store.seed import seed_database
from tests.support import LiveHub

URLS = ["sqlite"] + (["postgresql"] if os.environ.get("HUB_TEST_DATABASE_URL") else [])


@pytest.fixture(params=URLS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
    else:
        url = os.environ["HUB_TEST_DATABASE_URL"]
    engine = make_engine(url)
    drop_tables(engine)
    create_tables(engine)
    yield engine
    drop_tables(engine)
    engine.dispose()


def count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return int(session.execute(select(func.count()).select_from(table)).scalar_one())


def test_seed_creates_the_reference_data_once(engine: Engine) -> None:
    assert seed_database(engine) is True
    assert seed_database(engine) is False, "a second start seeds nothing"
    assert count(engine, Community) == 40
    assert count(engine, Household) == 500
    assert count(engine, Resident) == 1000
    assert count(engine, HouseholdChild) == sum(k % 4 for k in range(1, 501))
    assert count(engine, AccountLink) == 800 + 1000  # library cards, lock-cloud users


def test_seed_is_deterministic(engine: Engine) -> None:
    seed_database(engine)
    with Session(engine) as session:
        names = (
            session.execute(select(Resident.name).order_by(Resident.id).limit(5)).scalars().all()
        )
    from hub.store.seed import rows

    assert names == [r["name"] for r in rows()[Resident][:5]]


def test_household_lives_together_with_its_children(engine: Engine) -> None:
    seed_database(engine)
    with Session(engine) as session:
        first, second = (
            session.execute(
                select(Resident).where(Resident.household_id == "H0003").order_by(Resident.id)
            )
            .scalars()
            .all()
        )
        children = (
            session.execute(select(HouseholdChild).where(HouseholdChild.household_id == "H0003"))
            .scalars()
            .all()
        )
    assert (first.id, second.id) == ("R000005", "R000006")
    assert first.community_id == second.community_id == "C003"
    assert sorted(c.id for c in children) == ["Y00031", "Y00032", "Y00033"]
    assert {c.name: c.birth_date.year for c in children} == {
        "刘思远": 2015,
        "刘语嫣": 2017,
        "刘沐阳": 2019,
    }


async def test_directory_reads_profiles(engine: Engine) -> None:
    seed_database(engine)
    directory = SqlResidentDirectory(Database(engine))
    profile = await directory.profile("R000080")
    assert profile is not None
    assert profile.community.id == "C040"
    assert profile.community.name.endswith("社区")
    assert await directory.profile("R999999") is None


@pytest.mark.parametrize("kind", URLS)
def test_the_hub_runs_on_each_database(
    kind: str,
    start_hub: Callable[..., LiveHub],
    token_for: Callable[..., str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('hubdb') / 'hub.db'}"
    else:
        url = os.environ["HUB_TEST_DATABASE_URL"]
        engine = make_engine(url)
        drop_tables(engine)
        engine.dispose()
    hub = start_hub(database_url=url)
    assert hub.client.get("/readyz").json()["database"] == {"status": "ok"}
    query = "{ me { residentId community { id street } household { members { id } } } }"
    body = hub.graphql(query, token=token_for("R000003")).json()
    members = [{"id": i} for i in ("R000003", "R000004", "Y00021", "Y00022")]
    assert body["data"]["me"] == {
        "residentId": "R000003",
        "community": {"id": "C002", "street": "桂园街道"},
        "household": {"members": members},
    }
