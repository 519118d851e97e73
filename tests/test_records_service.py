"""What the hub keeps for residents: applicant references banks see instead of them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import Session

from hub.settings import Settings
from hub.store.db import Database, create_tables, make_engine
from hub.store.directory import SqlResidentDirectory
from hub.store.records import SqlHubRecords, applicant_key
from hub.store.seed import seed_database
from schema.context import LinkedAppointment

T = TypeVar("T")


def test_applicant_reference_is_keyed_opaque_and_stable(tmp_path: Path) -> None:
    database = Database(make_engine(f"sqlite:///{tmp_path / 'hub.db'}"))
    settings = Settings(var_dir=tmp_path)
    records = SqlHubRecords(database, applicant_key=applicant_key(settings))
    again = SqlHubRecords(database, applicant_key=applicant_key(settings))
    other_key = SqlHubRecords(database, applicant_key=b"another deployment's key")
    reference = records.applicant_ref("R000301")
    assert re.fullmatch(r"[0-9a-f]{32}", reference)
    assert "R000301" not in reference
    assert again.applicant_ref("R000301") == reference, "stable across restarts"
    assert records.applicant_ref("R000302") != reference
    assert other_key.applicant_ref("R000301") != reference, "keyed: not a plain hash of the id"
    assert (tmp_path / "keys" / "applicant-ref.key").stat().st_mode & 0o077 == 0


def test_a_configured_key_wins(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, applicant_ref_key="00" * 32)
    assert applicant_key(settings) == bytes(32)
    assert not (tmp_path / "keys" / "applicant-ref.key").exists()


class CountingDatabase(Database):
    """Counts the queries run (one ``run`` or ``read`` each)."""

    runs = 0

    async def run(self, work: Callable[[Session], T]) -> T:
        self.runs += 1
        return await super().run(work)

    async def read(self, work: Callable[[Any], T]) -> T:
        self.runs += 1
        return await super().read(work)


async def test_a_burst_of_one_residents_requests_reads_the_database_once(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    create_tables(engine)
    seed_database(engine)
    database = CountingDatabase(engine)
    directory = SqlResidentDirectory(database)
    records = SqlHubRecords(database, applicant_key=b"k" * 32)
    # twenty requests of one resident at the same moment: one profile load, one appointments read
    profiles = await asyncio.gather(*(directory.profile("R000001") for _ in range(20)))
    linked = await asyncio.gather(*(records.appointments_of("R000001") for _ in range(20)))
    assert database.runs == 2
    assert all(p == profiles[0] for p in profiles) and profiles[0] is not None
    assert linked == [[]] * 20
    # profiles are then cached; appointments are read again (live), and a link is seen at once
    await directory.profile("R000001")
    reading = asyncio.ensure_future(records.appointments_of("R000001"))
    await records.link_appointment("R000001", "icbc", "A1")
    after = await records.appointments_of("R000001")
    assert after == [LinkedAppointment("icbc", "A1")]
    await reading
    assert database.runs == 2 + 3
