"""``ihub serve``'s ports: all settable, two stacks side by side, a busy port in one clear line."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from hub.settings import DEV_DEPARTMENTS, Settings
from mocks.registry import MOCKS
from tests.serving import MOCK_COUNT, Serve, free_ports

CLASSIFY = '{ garbageSorting { classify(item: "电池") { category { name } } } }'


@contextmanager
def occupied(port: int) -> Iterator[None]:
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        yield


def test_the_hub_and_the_registry_agree_on_each_mocks_offset() -> None:
    assert {spec.name: spec.offset for spec in MOCKS} == {
        name: offset for name, (offset, _) in DEV_DEPARTMENTS.items()
    }
    assert len(MOCKS) == MOCK_COUNT


def test_department_urls_follow_the_mocks_base_port() -> None:
    settings = Settings.from_env({"HUB_MOCKS_BASE_PORT": "8300"})
    assert settings.departments["youth"].base_url == "http://127.0.0.1:8301"
    assert settings.departments["garbage"].base_url == "http://127.0.0.1:8306"
    explicit = Settings.from_env({"HUB_MOCKS_BASE_PORT": "8300", "HUB_GARBAGE_URL": "http://x"})
    assert explicit.departments["garbage"].base_url == "http://x", "an explicit URL still wins"


def test_two_stacks_run_side_by_side_each_hub_on_its_own_mocks(tmp_path: Path) -> None:
    # given two stacks on distinct free ports, started at once
    ports = free_ports(2 * (MOCK_COUNT + 1))
    a = Serve(tmp_path / "a", port=ports, mocks_base_port=ports)  # hub at base, mocks base+1…
    b_base = ports + MOCK_COUNT + 1
    b = Serve(tmp_path / "b", port=b_base, mocks_base_port=b_base)
    try:
        a.wait_ready()
        b.wait_ready()
        # when only hub A answers a garbage question
        answer = httpx.post(f"{a.url}/graphql", json={"query": CLASSIFY}, timeout=30).json()
        # then it answers, from A's garbage mock, and B's garbage mock saw nothing
        assert answer["data"]["garbageSorting"]["classify"]["category"]["name"] == "有害垃圾"
        stats = [httpx.get(f"{s.mock_url(6)}/__admin/stats").json()["total"] for s in (a, b)]
        assert stats[0] > 0 and stats[1] == 0, stats
        answer = httpx.post(f"{b.url}/graphql", json={"query": CLASSIFY}, timeout=30).json()
        assert answer["data"]["garbageSorting"]["classify"]["category"]["name"] == "有害垃圾"
    finally:
        results = [a.stop(), b.stop()]
    for code, out, err in results:
        assert code == 0, out + err
        assert "Traceback" not in err


def test_a_busy_mock_port_ends_in_one_line_naming_the_port_and_the_setting(
    tmp_path: Path,
) -> None:
    base = free_ports(MOCK_COUNT + 2)
    with occupied(base + 2):  # the library mock's port
        code, out, err = Serve(tmp_path, port=base + MOCK_COUNT + 1, mocks_base_port=base).finish()
    assert code != 0
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert f"port {base + 2}" in last and "library" in last and "HUB_MOCKS_BASE_PORT" in last
    assert [line for line in err.splitlines() if line.startswith("ihub:")] == [last]
    assert "Hub on" not in out, "nothing claims the hub started"


def test_a_busy_hub_port_ends_in_one_line_before_anything_claims_success(tmp_path: Path) -> None:
    base = free_ports(MOCK_COUNT + 2)
    with occupied(base):
        code, out, err = Serve(tmp_path, port=base, mocks_base_port=base).finish()
    assert code != 0
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"ihub: port {base} (the hub) is already in use: set HUB_PORT (or --port) to another port"
    )
    assert "Hub on" not in out and "mock " not in out, "nothing was started or announced"


def test_a_port_setting_that_is_not_a_port_is_one_line_too(tmp_path: Path) -> None:
    base = free_ports(MOCK_COUNT + 1)
    serve = Serve(tmp_path, port=base, mocks_base_port=base, HUB_MOCKS_BASE_PORT="eighty")
    code, out, err = serve.finish()
    assert (code, out) == (2, "")
    assert err.strip() == "ihub: HUB_MOCKS_BASE_PORT must be a number, not 'eighty'"


def test_the_government_mocks_population_is_a_setting() -> None:
    assert Settings.from_env({}).mocks_population == 1000
    assert Settings.from_env({"HUB_MOCKS_POPULATION": "1000000"}).mocks_population == 1_000_000
    for wrong in ("999", "1.5", "many"):
        try:
            Settings.from_env({"HUB_MOCKS_POPULATION": wrong})
        except ValueError as exc:
            assert "HUB_MOCKS_POPULATION" in str(exc)
        else:
            raise AssertionError(f"{wrong!r} accepted")


def test_two_workers_share_one_port_seed_once_and_stop_on_ctrl_c(
    tmp_path: Path, token_for: Callable[..., str], var_dir: Path
) -> None:
    # given `ihub serve --workers 2` on an empty var directory (the dev keys of the test's)
    shutil.copytree(var_dir / "keys", tmp_path / "keys")
    base = free_ports(MOCK_COUNT + 1)
    serve = Serve(tmp_path, port=base, mocks_base_port=base, args=("--workers", "2"))
    try:
        serve.wait_ready()
        # then two worker processes serve the one port, under the process ihub started
        workers = Path(f"/proc/{serve.process.pid}/task/{serve.process.pid}/children")
        spawned = [int(pid) for pid in workers.read_text().split()]
        serving = [p for p in spawned if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(serving) == 2, spawned
        # and both answer from one seeded database and the mocks ihub started
        token = token_for("R000001")
        answers = [
            httpx.post(
                f"{serve.url}/graphql",
                json={"query": "{ me { name } " + CLASSIFY[1:]},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ).json()
            for _ in range(8)
        ]
        assert all("errors" not in a and a["data"]["me"]["name"] for a in answers), answers[0]
        assert len({str(a) for a in answers}) == 1
    finally:
        code, out, err = serve.stop()
    # and Ctrl-C ends the workers and the mocks cleanly
    assert code == 0, err[-2000:]
    assert "2 workers" in out


def _pids_over_connections_opened_at_once(port: int, count: int) -> list[int]:
    """``count`` keep-alive connections opened together (as a load balancer's pool or a
    benchmark opens them), then ``/status`` once on each: the worker pid each one reached."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(count)]
    try:
        for connection in connections:
            connection.connect()
        pids = []
        for connection in connections:
            connection.request("GET", "/status")
            response = connection.getresponse()
            assert response.status == 200
            pids.append(json.loads(response.read())["process"]["pid"])
        return pids
    finally:
        for connection in connections:
            connection.close()


def _wait_for_workers(port: int, expected: int) -> set[int]:
    """Fresh connections until ``expected`` distinct workers have answered (each socket joins
    the port's group once its worker has started)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen = set(_pids_over_connections_opened_at_once(port, 16))
        if len(seen) >= expected:
            return seen
        time.sleep(0.2)  # a worker is still starting: its socket is not listening yet
    raise AssertionError(f"only {seen} answered")


def test_two_workers_split_connections_opened_at_once_and_a_killed_one_is_replaced(
    tmp_path: Path, token_for: Callable[..., str], var_dir: Path
) -> None:
    # given `ihub serve --workers 2` on the test's dev keys (token_for creates them), both up
    shutil.copytree(var_dir / "keys", tmp_path / "keys")
    base = free_ports(MOCK_COUNT + 1)
    serve = Serve(tmp_path, port=base, mocks_base_port=base, args=("--workers", "2"))
    try:
        serve.wait_ready()
        workers = _wait_for_workers(base, 2)
        # when a client opens 64 connections at once
        pids = _pids_over_connections_opened_at_once(base, 64)
        # then both workers hold a share of them (each socket gets a kernel-hashed share; on
        # one shared socket the first worker to wake took up to 63 of the 64)
        assert set(pids) == workers, (pids, workers)
        assert min(pids.count(pid) for pid in workers) >= 12, Counter(pids)
        # and a worker killed outright is replaced, on its predecessor's socket
        killed = min(workers)
        os.kill(killed, signal.SIGKILL)
        after = _wait_for_workers(base, 2)
        assert killed not in after and len(after & workers) == 1, (workers, after)
    finally:
        # and SIGTERM stops every worker and the mocks cleanly
        if serve.process.poll() is None:
            serve.process.send_signal(signal.SIGTERM)
        code, _, err = serve.finish()
    assert code == 0, err[-2000:]
    assert "Traceback" not in err
    assert not [pid for pid in workers | after if Path(f"/proc/{pid}").exists()]


def test_a_hub_port_another_set_of_workers_listens_on_is_busy_too(tmp_path: Path) -> None:
    # given a listener with SO_REUSEPORT (as another `ihub serve --workers` binds its port)
    base = free_ports(MOCK_COUNT + 2)
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        squatter.bind(("127.0.0.1", base))
        squatter.listen()
        # when `ihub serve --workers 2` is started on that port
        serve = Serve(tmp_path, port=base, mocks_base_port=base, args=("--workers", "2"))
        code, out, err = serve.finish()
    # then it refuses in one line instead of silently sharing the port
    assert code != 0
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == (
        f"ihub: port {base} (the hub) is already in use: set HUB_PORT (or --port) to another port"
    )
    assert "Hub on" not in out and "mock " not in out, "nothing was started or announced"
