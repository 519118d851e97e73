"""What the hub keeps for residents: applicant references banks see instead of them."""

from __future__ import annotations

import re
from pathlib import Path

from hub.db import Database, make_engine
from hub.records import SqlHubRecords, applicant_key
from hub.settings import Settings


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
