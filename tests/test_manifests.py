"""Manifests through the operator's commands: validated whole, optionally signed, re-checked."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def operation(name: str, body: str) -> dict[str, str]:
    return {
        "id": hashlib.sha256(body.encode()).hexdigest(),
        "name": name,
        "type": "query",
        "body": body,
    }


GOOD = operation("Categories", "query Categories { garbageSorting { categories { code } } }")
BAD = operation("Nope", "query Nope { garbageSorting { noSuchField } }")


def write(path: Path, *operations: dict[str, str], **extra: str) -> Path:
    manifest = {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": list(operations),
        **extra,
    }
    path.write_text(json.dumps(manifest))
    return path


class Ops:
    def __init__(self, tmp: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "HUB_VAR_DIR": str(tmp),
            "HUB_DATABASE_URL": f"sqlite:///{tmp / 'hub.db'}",
            **env,
        }
        self.database = tmp / "hub.db"

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "hub.cli", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def operations(self) -> list[str]:
        with sqlite3.connect(self.database) as db:
            return sorted(row[0] for row in db.execute("SELECT name FROM partner_operation"))


def test_register_all_or_nothing(tmp_path: Path) -> None:
    ihub = Ops(tmp_path)
    added = ihub("partner", "add", "kiosk", "--name", "Kiosk")
    assert added.returncode == 0 and "client_secret:" in added.stdout
    refused = ihub(
        "manifest", "register", "--partner", "kiosk", str(write(tmp_path / "m.json", GOOD, BAD))
    )
    assert refused.returncode == 1
    assert "Nope" in refused.stderr and "noSuchField" in refused.stderr
    assert ihub.operations() == []
    accepted = ihub(
        "manifest", "register", "--partner", "kiosk", str(write(tmp_path / "ok.json", GOOD))
    )
    assert accepted.returncode == 0, accepted.stderr
    assert ihub.operations() == ["Categories"]


def test_an_id_that_is_not_the_hash_of_its_body_is_refused(tmp_path: Path) -> None:
    ihub = Ops(tmp_path)
    ihub("partner", "add", "kiosk", "--name", "Kiosk")
    lying = {**GOOD, "id": "0" * 64}
    refused = ihub(
        "manifest", "register", "--partner", "kiosk", str(write(tmp_path / "m.json", lying))
    )
    assert refused.returncode == 1 and "SHA-256" in refused.stderr


def test_signed_manifests(tmp_path: Path) -> None:
    ihub = Ops(tmp_path, HUB_REQUIRE_SIGNED_MANIFESTS="true")
    ihub("partner", "add", "kiosk", "--name", "Kiosk")
    assert ihub("manifest", "keygen").returncode == 0
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=30)).isoformat()
    manifest = write(tmp_path / "m.json", GOOD, not_after=later)
    # unsigned: refused when signatures are required
    unsigned = ihub("manifest", "register", "--partner", "kiosk", str(manifest))
    assert unsigned.returncode == 1 and "unsigned" in unsigned.stderr
    # signed: accepted
    assert ihub("manifest", "sign", str(manifest)).returncode == 0
    assert ihub("manifest", "register", "--partner", "kiosk", str(manifest)).returncode == 0
    # tampered after signing: refused
    manifest.write_text(manifest.read_text().replace("categories", "categories code"))
    tampered = ihub("manifest", "register", "--partner", "kiosk", str(manifest))
    assert tampered.returncode == 1 and "signature" in tampered.stderr
    # expired, even if signed
    expired = write(tmp_path / "old.json", GOOD, not_after="2020-01-01T00:00:00+08:00")
    ihub("manifest", "sign", str(expired))
    refused = ihub("manifest", "register", "--partner", "kiosk", str(expired))
    assert refused.returncode == 1 and "expired" in refused.stderr


def test_check_names_what_a_schema_change_would_break(tmp_path: Path) -> None:
    ihub = Ops(tmp_path)
    ihub("partner", "add", "kiosk", "--name", "Kiosk")
    ihub("manifest", "register", "--partner", "kiosk", str(write(tmp_path / "m.json", GOOD)))
    assert ihub("manifest", "check").returncode == 0
    # as if the schema had dropped a field the stored operation uses
    with sqlite3.connect(ihub.database) as db:
        db.execute("UPDATE partner_operation SET body = ?", (BAD["body"],))
    broken = ihub("manifest", "check")
    assert broken.returncode == 1 and "kiosk: Categories: Cannot query field" in broken.stderr


CONSENT_OPERATIONS = {
    "RedeemConsent": "mutation",
    "ConsentedResident": "query",
    "ConsentedIdentity": "query",
    "ConsentedApplications": "query",
    "FileUnderConsent": "mutation",
}


def test_the_dev_banks_manifests_carry_the_consent_operations(tmp_path: Path) -> None:
    # given the example manifests the dev partners are seeded with
    for bank in ("icbc", "ccb"):
        path = REPO / "partners" / f"{bank}.manifest.json"
        found = {op["name"]: op for op in json.loads(path.read_text())["operations"]}
        # then each has the 帮办 operations, ids the hashes of their bodies
        for name, kind in CONSENT_OPERATIONS.items():
            assert found[name]["type"] == kind, (bank, name)
            assert found[name]["id"] == hashlib.sha256(found[name]["body"].encode()).hexdigest()
        # and the whole manifest registers against the current schema (all or nothing)
        ihub = Ops(tmp_path / bank)
        assert ihub("partner", "add", bank, "--name", bank).returncode == 0
        registered = ihub("manifest", "register", "--partner", bank, str(path))
        assert registered.returncode == 0, registered.stderr
        assert set(CONSENT_OPERATIONS) <= set(ihub.operations())
