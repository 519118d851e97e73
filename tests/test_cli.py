"""``ihub``: the commands a developer types on a fresh machine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from hub.security.auth import DevKeys
from tests.serving import MOCK_COUNT, Serve, free_ports

REPO = Path(__file__).resolve().parent.parent


def ihub(
    *args: str, var: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HUB_VAR_DIR": str(var), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_token_prints_a_verifiable_dev_token(tmp_path: Path) -> None:
    done = ihub("token", "R000001", var=tmp_path)
    assert done.returncode == 0, done.stderr
    keys = DevKeys.load_or_create(tmp_path / "keys")
    claims = jwt.decode(done.stdout.strip(), keys.public_pem, algorithms=["RS256"], audience="ihub")
    assert claims["sub"] == "R000001"
    assert claims["exp"] > time.time()


def test_token_refuses_a_malformed_resident(tmp_path: Path) -> None:
    done = ihub("token", "admin", var=tmp_path)
    assert done.returncode == 2
    assert "R followed by 6 digits" in done.stderr


def test_token_refuses_a_resident_the_hub_does_not_know(
    tmp_path: Path, database_urls: list[str]
) -> None:
    for url in database_urls:  # SQLite and PostgreSQL
        env = {"HUB_DATABASE_URL": url}
        assert ihub("token", "R001000", var=tmp_path, env=env).returncode == 0, url
        done = ihub("token", "R999999", var=tmp_path, env=env)
        assert (done.returncode, done.stdout) == (1, ""), url
        assert "no resident R999999 in the hub's database" in done.stderr
        assert "Traceback" not in done.stderr


def test_token_checks_the_hubs_database_not_only_the_seed(tmp_path: Path) -> None:
    # given a database without dev data, as in a deployment that does not seed
    env = {"HUB_SEED_DATABASE": "false"}
    done = ihub("token", "R000001", var=tmp_path, env=env)
    assert done.returncode == 1 and "no resident R000001" in done.stderr


@pytest.mark.parametrize("ttl", ["0", "-60"])
def test_token_refuses_a_lifetime_that_is_not_positive(tmp_path: Path, ttl: str) -> None:
    done = ihub("token", "R000001", "--ttl", ttl, var=tmp_path)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"--ttl must be a positive number of seconds, not {ttl}" in done.stderr


def test_serve_starts_mocks_and_hub_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    # given free ports for the hub and every mock
    base = free_ports(MOCK_COUNT + 1)
    serve = Serve(tmp_path, port=base, mocks_base_port=base)
    try:
        # when it is up (or it ended early: then the failure carries its output)
        serve.wait_ready()
        answer = httpx.post(
            f"{serve.url}/graphql",
            json={"query": '{ garbageSorting { classify(item: "电池") { category { name } } } }'},
            timeout=30,
        )
        # then the acceptance question answers, and the database was created and seeded
        assert answer.json()["data"]["garbageSorting"]["classify"]["category"]["name"] == "有害垃圾"
        assert (tmp_path / "hub.db").exists()
    finally:
        code, out, err = serve.stop()
    assert code == 0, out + err
    assert "Traceback" not in out + err
