"""Issue 18: with no registry and no GraphiQL assets, ``ihub serve`` still starts at once.

The real CLI in a subprocess with an empty asset directory. For ``serve`` npm's registry is a
loopback socket that accepts connections and never answers (npm hangs on it, as on a
black-holed network): the hub answers while the fetch is still under way, ``/graphql`` shows
a browser how to fetch the assets, queries work, and SIGINT stops the hub and its npm child
long before the fetch's own timeout. For ``ihub graphiql fetch`` the registry is a closed
port: it gives up with a clear message. Bounds are generous subprocess timeouts, never
timing assertions.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.web.graphiql_assets import DEFAULT_TIMEOUT_S

REPO = Path(__file__).resolve().parents[1]
IHUB = Path(sys.executable).with_name("ihub")
# Generous bounds (start-up takes ~3 s here), yet below the fetch's own 60 s deadline
# (DEFAULT_TIMEOUT_S): a serve that waited for the fetch, or a shutdown that waited for npm,
# cannot pass.
BOUND_S = 45
STOP_BOUND_S = 30


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket closes


@pytest.fixture
def offline_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.lower().startswith("npm_")}
    env.update(
        HUB_ENV="dev",
        HUB_GRAPHIQL="1",
        HUB_VAR_DIR=str(tmp_path / "var"),
        HUB_GRAPHIQL_DIR=str(tmp_path / "empty-graphiql"),
        npm_config_registry=f"http://127.0.0.1:{_closed_port()}/",
        npm_config_cache=str(tmp_path / "npm-cache"),  # nothing cached to fall back on
        npm_config_update_notifier="false",
    )
    return env


def _get(url: str, accept: str) -> tuple[int, str]:
    response = httpx.get(url, headers={"Accept": accept}, timeout=10)
    return response.status_code, response.text


@pytest.fixture
def silent_registry() -> Iterator[str]:
    """A registry URL whose connections are accepted (by the backlog) and never answered."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/"


@pytest.fixture
def serving(
    offline_env: dict[str, str], silent_registry: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    offline_env = {**offline_env, "npm_config_registry": silent_registry}
    port = _closed_port()
    process = subprocess.Popen(
        [str(IHUB), "serve", "--no-mocks", "--port", str(port)],
        cwd=REPO,
        env=offline_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    waiting = threading.Event()
    try:
        for _ in range(BOUND_S * 10):
            if process.poll() is not None:
                pytest.fail(f"ihub serve exited {process.returncode}: {''.join(lines)}")
            try:
                if _get(f"{base}/healthz", "application/json")[0] == 200:
                    break
            except httpx.HTTPError:
                pass
            waiting.wait(0.1)
        else:
            pytest.fail(f"ihub serve never answered within {BOUND_S} s: {''.join(lines)}")
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_serve_starts_without_a_registry_and_explains_graphiql(
    serving: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = serving
    assert DEFAULT_TIMEOUT_S > BOUND_S  # else a serve waiting for the fetch would pass
    status, page = _get(f"{base}/graphql", "text/html")
    assert status == 503
    assert "ihub graphiql fetch" in page
    assert "GraphiQL" in page and "<script" not in page
    assert "trying to fetch them in the background" in page  # serve did not wait for it

    answer = httpx.post(f"{base}/graphql", json={"query": "{ __typename }"}, timeout=10)
    assert answer.json() == {"data": {"__typename": "Query"}}

    process.send_signal(signal.SIGINT)  # a fetch still running must not hold up shutdown
    assert process.wait(timeout=STOP_BOUND_S) == 0


def test_graphiql_fetch_gives_up_with_a_clear_message(offline_env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(IHUB), "graphiql", "fetch"],
        cwd=REPO,
        env=offline_env,
        capture_output=True,
        text=True,
        timeout=BOUND_S,
    )
    assert done.returncode == 1
    assert "GraphiQL assets could not be fetched" in done.stderr
    assert not any(Path(offline_env["HUB_GRAPHIQL_DIR"]).glob("*.js"))
