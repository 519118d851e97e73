"""``ihub``: the commands a developer types on a fresh machine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
import pytest

from hub.security.auth import DevKeys
from tests.serving import MOCK_COUNT, free_ports

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
    env = {
        **os.environ,
        "HUB_VAR_DIR": str(tmp_path),
        "HUB_PORT": str(base),
        "HUB_MOCKS_BASE_PORT": str(base),
        "HUB_GRAPHIQL": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "serve"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # when it is up (the transport retries refused connections with backoff, ~30 s)
        with httpx.Client(transport=httpx.HTTPTransport(retries=6), timeout=30) as client:
            answer = client.post(
                f"http://127.0.0.1:{base}/graphql",
                json={
                    "query": '{ garbageSorting { classify(item: "电池") { category { name } } } }'
                },
            )
        # then the acceptance question answers, and the database was created and seeded
        assert answer.json()["data"]["garbageSorting"]["classify"]["category"]["name"] == "有害垃圾"
        assert (tmp_path / "hub.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "Traceback" not in output
