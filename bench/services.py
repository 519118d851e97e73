"""The three kinds of process the bench runs: department mocks, the hub, the load generator.

Each is a process group of its own (``bench.procs``), reachable only on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.procs import REPO, Child, cpu_seconds, descendants, spawn

MOCK_NAMES = ("youth", "library", "icbc", "ccb", "locks", "garbage", "catalogue")
DEV_PORTS = {
    "youth": 8101,
    "library": 8102,
    "icbc": 8103,
    "ccb": 8104,
    "locks": 8105,
    "garbage": 8106,
    "catalogue": 8107,
}
BANKS = ("icbc", "ccb")


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 15.0,
) -> tuple[int, bytes]:
    """One request to a loopback address; any HTTP status is returned, not raised."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"the bench only talks to loopback, not {url}")
    # the scheme and host are checked above: S310 is about file:// and custom schemes
    request = urllib.request.Request(url, body, dict(headers or {}), method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def post_json(url: str, payload: object, headers: Mapping[str, str] | None = None) -> Any:
    status, body = http(
        "POST",
        url,
        json.dumps(payload).encode(),
        {"Content-Type": "application/json", **(headers or {})},
    )
    if status >= 400:
        raise RuntimeError(f"POST {url}: HTTP {status} {body[:200]!r}")
    return json.loads(body)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(what: str, check: Any, child: Child, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{what} exited early:\n{child.tail()}")
        if check():
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f} s:\n{child.tail()}")


class Mocks:
    """Every department mock, one process each, with the admin surface at hand."""

    def __init__(self, work: Path, *, dev_ports: bool = False) -> None:
        self.state_dir = work / "mock-state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []
        self.urls: dict[str, str] = {}
        python = sys.executable
        for name in MOCK_NAMES:
            ready = work / f"mock-{name}.ready"
            port = str(DEV_PORTS[name] if dev_ports else 0)
            argv = [python, "-m", "bench.mockproc", name, str(self.state_dir), str(ready), port]
            child = spawn(f"mock-{name}", argv, env=os.environ, log_dir=work)
            self.children.append(child)
        for child, name in zip(self.children, MOCK_NAMES, strict=True):
            ready = work / f"mock-{name}.ready"
            wait_for(f"mock {name}", ready.exists, child, 60)
            self.urls[name] = json.loads(ready.read_text())["url"]

    def pids(self) -> list[int]:
        return [pid for child in self.children for pid in child.pids()]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pids())

    def faults(self, *, latency_ms: float, jitter_ms: float) -> None:
        for url in self.urls.values():
            post_json(f"{url}/__admin/faults", {"latency_ms": latency_ms, "jitter_ms": jitter_ms})

    def lift_quotas(self) -> dict[str, Any]:
        """Raise the departments' own call quotas so that they do not cap the hub's figures.

        The real youth center allows 20 calls/s per key and each bank 50 calls/s and 10 in
        flight per app; with them in force the bench would measure the quotas, not the hub.
        """
        before = {
            "youth": json.loads(http("GET", f"{self.urls['youth']}/__admin/rate-limit")[1]),
            **{b: json.loads(http("GET", f"{self.urls[b]}/__admin/limits")[1]) for b in BANKS},
        }
        post_json(f"{self.urls['youth']}/__admin/rate-limit", {"per_second": 1_000_000})
        for bank in BANKS:
            post_json(
                f"{self.urls[bank]}/__admin/limits",
                {"per_second": 1_000_000, "max_in_flight": 100_000},
            )
        return before

    def stats(self) -> dict[str, Counter[str]]:
        """``requests`` and ``responses`` counters of every mock, keyed ``"<mock> <endpoint>"``."""
        calls: Counter[str] = Counter()
        answers: Counter[str] = Counter()
        for name, url in self.urls.items():
            status, body = http("GET", f"{url}/__admin/stats")
            if status != 200:
                raise RuntimeError(f"mock {name}: /__admin/stats answered {status}")
            found = json.loads(body)
            calls.update({f"{name} {k}": v for k, v in found["requests"].items()})
            answers.update({f"{name} {k}": v for k, v in found["responses"].items()})
        return {"requests": calls, "responses": answers}

    def stop(self) -> None:
        for child in self.children:
            child.stop()


def stats_delta(
    before: Mapping[str, Counter[str]], after: Mapping[str, Counter[str]]
) -> dict[str, Any]:
    """Upstream calls made between two ``Mocks.stats()`` readings, and the refused ones."""
    calls = after["requests"] - before["requests"]
    answers = after["responses"] - before["responses"]
    refused = {k: v for k, v in answers.items() if int(k.rsplit(" ", 1)[1]) >= 400}
    return {
        "total": sum(calls.values()),
        "by_endpoint": dict(sorted(calls.items())),
        "refused": refused,
    }


class Hub:
    """The hub under uvicorn, on a copy of the template var directory."""

    def __init__(
        self,
        label: str,
        *,
        workers: int,
        template: Path,
        work: Path,
        env: Mapping[str, str],
        database_url: str | None = None,
        shared_socket: bool = False,
        checkout: Path = REPO,
    ) -> None:
        """Several ``workers`` run under ``ihub serve --workers``' supervisor (a listening
        socket each, ``hub.cli.workers``), or with ``shared_socket`` under uvicorn's own
        ``--workers`` (one socket for all: the first worker to wake accepts most connections).
        ``checkout``: whose code runs (another revision's, for ``bench.ab``)."""
        self.label = label
        self.workers = workers
        var_dir = work / f"hub-{label}" / "var"
        shutil.copytree(template, var_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        spread = [sys.executable, "-m", "bench.app", "serve", str(self.port), str(workers)]
        argv = (
            spread
            if workers > 1 and not shared_socket
            else [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.app:create",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--loop",
                "auto",
                "--http",
                "hub.web.protocol:HubHttpProtocol",  # as ihub serves (one send an answer)
                "--no-access-log",
                "--log-level",
                "warning",
                "--backlog",
                "4096",
                "--timeout-graceful-shutdown",
                "3",
            ]
        )
        hub_env = {**env, **var_env(var_dir, database_url), "HUB_WORKERS": str(workers)}
        self.child = spawn(f"hub-{label}", argv, env=hub_env, log_dir=work, cwd=checkout)
        self._launched = time.monotonic()
        self.start_s: float | None = None

    def wait_ready(self) -> Hub:
        """Block until ``/readyz`` answers 200 (and, with several workers, all are up)."""
        if self.start_s is not None:
            return self
        wait_for(f"hub {self.label}", self._ready, self.child, 90)
        if self.workers > 1:
            wait_for(
                f"hub {self.label} workers",
                lambda: len(self.worker_pids()) >= self.workers,
                self.child,
                30,
            )
            for _ in range(10 * self.workers):  # likely every worker has run its lifespan
                wait_for(f"hub {self.label}", self._ready, self.child, 30)
        self.start_s = round(time.monotonic() - self._launched, 2)
        return self

    def _ready(self) -> bool:
        try:
            return http("GET", f"{self.url}/readyz", timeout_s=2)[0] == 200
        except OSError:
            return False

    def worker_pids(self) -> list[int]:
        """The processes serving requests (uvicorn's workers, or the one process)."""
        if self.workers == 1:
            return [self.child.pid]
        return [pid for pid in descendants(self.child.pid) if _is_worker(pid)]

    def pids(self) -> list[int]:
        return self.child.pids()

    def stop(self) -> None:
        self.child.stop()


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline


def var_env(var_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """The hub's var directory and database: its own SQLite file unless ``database_url``."""
    return {
        "HUB_VAR_DIR": str(var_dir),
        "HUB_DATABASE_URL": database_url or f"sqlite:///{var_dir / 'hub.db'}",
    }


def hub_env(mocks: Mocks, extra: Mapping[str, str]) -> dict[str, str]:
    """The environment of every hub the bench starts: dev settings, wired to these mocks."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENV": "dev",
            "HUB_GRAPHIQL": "false",
            "HUB_SEED_DATABASE": "true",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    # the hub's own per-caller rate limits would answer most load with 429: the bench lifts
    # them (the limiter still runs, so its cost is measured)
    for kind in ("ANONYMOUS", "RESIDENT", "PARTNER"):
        env[f"HUB_RATE_LIMIT_{kind}"] = "100000000/1000000"
    for name, url in mocks.urls.items():
        env[f"HUB_{name.upper()}_URL"] = url
    for bank in BANKS:
        keys = mocks.state_dir / "bank" / bank
        env[f"HUB_{bank.upper()}_APP_PRIVATE_KEY"] = str(keys / "app-private.pem")
        env[f"HUB_{bank.upper()}_BANK_PUBLIC_KEY"] = str(keys / "bank-public.pem")
    env.update(extra)
    return env


def prepare_template(
    template: Path,
    env: Mapping[str, str],
    work: Path,
    links: list[str] | None = None,
    database_url: str | None = None,
) -> None:
    """Create (or update) the seeded var directory every hub run starts from a copy of."""
    template.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "bench.app", "prepare", *(links or [])]
    child = spawn("prepare", argv, env={**env, **var_env(template, database_url)}, log_dir=work)
    try:
        code = child.popen.wait(timeout=120)
    except subprocess.TimeoutExpired:
        child.stop()
        raise RuntimeError("preparing the hub's database took more than 120 s") from None
    if code != 0:
        raise RuntimeError(f"preparing the hub's database failed:\n{child.tail()}")


class LoadGenerator:
    """``bench.loadgen`` in its own process, one JSON spec in and one result out per run."""

    def __init__(self, work: Path) -> None:
        self.child = spawn(
            "loadgen",
            [sys.executable, "-m", "bench.loadgen"],
            env=os.environ,
            log_dir=work,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def run(self, spec: Mapping[str, Any], *, timeout_s: float) -> dict[str, Any]:
        process = self.child.popen
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(json.dumps(spec).encode() + b"\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout_s)
        if not ready:
            raise RuntimeError(f"the load generator did not answer within {timeout_s:.0f} s")
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator exited:\n{self.child.tail()}")
        result: dict[str, Any] = json.loads(line)
        if "failed" in result:
            raise RuntimeError(f"the load generator failed: {result['failed']}")
        return result

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.child.pids())

    def stop(self) -> None:
        if self.child.popen.stdin is not None:
            self.child.popen.stdin.close()
        self.child.stop()
