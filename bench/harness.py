"""``python -m bench [--quick | --full]``: start everything, measure, write ``bench/results/``.

Order of a run (each hub on its own copy of a seeded var directory and SQLite file):

1. the six mocks, one process each, at 20 ± 5 ms per call, departments' quotas lifted;
2. cold probes: the first request of each operation on fresh hubs (upstream calls vs minimum),
   and 100 concurrent identical home screens on a fresh hub, then again on the warm hub;
3. one hub with 1 worker: per operation a sequential run (steady-state calls per request),
   closed loops at 1, 16 and 64 clients, an open loop at 300 requests/s with the mocks at
   20 ms and again at 0 ms (the hub's overhead), then 1,000 concurrent connections;
4. the same hub with 2 workers (fewer phases); naive mode when the hub has ``HUB_NAIVE``;
5. full mode only: a 10-minute soak at a fixed arrival rate, memory sampled every minute.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bench import analysis, report, wrk
from bench.ops import Operation, count_path, load
from bench.procs import (
    REPO,
    background_load,
    cpu_seconds,
    machine_busy_seconds,
    memory_mb,
    reset_peak,
)
from bench.services import (
    Hub,
    LoadGenerator,
    Mocks,
    http,
    hub_env,
    post_json,
    prepare_template,
    stats_delta,
)

RESULTS = Path(__file__).resolve().parent / "results"
SETTINGS_FILE = Path(__file__).resolve().parent.parent / "hub" / "settings.py"
LATENCY_MS, JITTER_MS = 20.0, 5.0
TARGET_RATE = 300.0
PARTNER = {"client_id": "icbc-window-dev", "client_secret": "dev-icbc-partner-secret"}
HERD = 100
CONNECTIONS = 1000
SOAK_RESIDENTS = 200
LOAD_RESIDENTS = [f"R{n:06d}" for n in range(1, 65)]
"""Whose personal operations the load phases send, in turn: concurrent requests of a real hub
come from different residents, and identical concurrent reads of one resident share their
upstream calls (``connectors.singleflight``), which one resident alone would flatter. The
sequential phase (calls per request against the minimum) and the herd stay with R000001."""


@dataclass(frozen=True)
class Plan:
    """How long and how much each mode measures."""

    mode: str
    phase_s: float
    seq_requests: int
    one_worker: tuple[str, ...]
    two_workers: tuple[str, ...]
    naive: tuple[str, ...]
    connections_s: float
    connections_op: str
    soak_s: float
    budget_s: float


# "seq" is the closed loop at 1 client (a fixed number of requests): it gives the steady-state
# upstream calls per request and the latency at concurrency 1.
# Quick mode leaves out 16 clients (full mode has 1, 16 and 64) and holds its 1,000
# connections with a cheap operation, to stay within 2 minutes; full mode uses the home screen.
QUICK = Plan(
    "quick", 1.5, 20, ("seq", "c64", "open", "open0"), ("c64", "open"),
    ("seq", "c64", "open"), 2.0, "classify", 0.0, 120.0,
)  # fmt: skip
FULL = Plan(
    "full", 3.0, 50, ("seq", "c16", "c64", "open", "open0"), ("c64", "open"),
    ("seq", "c64", "open"), 5.0, "home", 600.0, 900.0,
)  # fmt: skip
# (full: the phases leave the soak its whole 10 minutes inside the 15; at 4 s a phase and c16
# on every hub, the soak started at 299 s and had room for 9)


class Budget:
    """The mode's time limit: phases that would not fit are skipped and reported as such."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()


class Bench:
    """What every phase needs: the mocks, the load generator, tokens and the template."""

    def __init__(self, plan: Plan, work: Path, ops: list[Operation], dev_ports: bool) -> None:
        self.plan, self.work, self.ops = plan, work, ops
        self.began = time.monotonic()
        self.budget = Budget(plan.budget_s)
        self.running: list[Any] = []
        self.mocks = self._keep(Mocks(work, dev_ports=dev_ports))
        self.loadgen = self._keep(LoadGenerator(work))
        self.env = hub_env(self.mocks, {})
        self.template = work / "template-var"
        prepare_template(self.template, self.env, work)
        self.tokens: dict[str, str] = {}
        self.hub_start_s: dict[str, float] = {}
        self.timeline: list[tuple[float, str]] = []

    def _keep(self, thing: Any) -> Any:
        self.running.append(thing)
        return thing

    def stop_all(self) -> None:
        for thing in reversed(self.running):
            with contextlib.suppress(Exception):
                thing.stop()
        self.running.clear()

    # -- set-up ----------------------------------------------------------------------------

    def issue_tokens(self, residents: list[str]) -> None:
        from hub.security.auth import DevKeys, issue_token
        from hub.settings import Settings

        keys = DevKeys.load_or_create(self.template / "keys")
        defaults = Settings()
        for resident in residents:
            self.tokens[resident] = issue_token(
                keys,
                resident,
                issuer=defaults.jwt_issuer,
                audience=defaults.jwt_audience,
                ttl_s=6 * 3600,
            )

    def launch_hub(
        self,
        label: str,
        workers: int,
        extra: dict[str, str] | None = None,
        *,
        shared_socket: bool = False,
        checkout: Path = REPO,
    ) -> Hub:
        """Start a hub on a fresh copy of the template; ``ready()`` waits for it. ``checkout``:
        whose code it runs (this one unless another revision's, for ``bench.ab``)."""
        env = {**self.env, **(extra or {})}
        hub = Hub(
            label,
            workers=workers,
            template=self.template,
            work=self.work,
            env=env,
            shared_socket=shared_socket,
            checkout=checkout,
        )
        self.running.append(hub)
        return hub

    def ready(self, hub: Hub) -> Hub:
        hub.wait_ready()
        self.hub_start_s[hub.label] = hub.start_s or 0.0
        self.mark(f"hub {hub.label} ready")
        return hub

    def mark(self, what: str) -> None:
        self.timeline.append((round(time.monotonic() - self.began, 1), what))

    def stop_hub(self, hub: Hub) -> None:
        hub.stop()
        if hub in self.running:
            self.running.remove(hub)

    def partner_token(self, hub: Hub) -> str:
        form = urllib.parse.urlencode({"grant_type": "client_credentials", **PARTNER}).encode()
        status, body = http(
            "POST",
            f"{hub.url}/oauth/token",
            form,
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
        if status != 200:
            raise RuntimeError(f"partner token: HTTP {status} {body[:200]!r}")
        return str(json.loads(body)["access_token"])

    def book_appointment(self, hub: Hub) -> dict[str, Any]:
        """Book one ICBC window appointment for R000001 (the home screen's fifth department)."""
        day = (
            dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() + dt.timedelta(days=10)
        ).isoformat()
        mutation = (
            "mutation Book($input: BookWindowAppointmentInput!) { bookWindowAppointment("
            "input: $input) { appointment { number bank } userErrors { code message } } }"
        )
        variables = {
            "input": {
                "bank": "ICBC",
                "branchId": "4000101",
                "itemCode": "SB-0001",
                "date": day,
                "slot": "10:00-10:30",
                "mobile": "13800138000",
                "idempotencyKey": "bench-home-appointment-1",
            }
        }
        answer = post_json(
            f"{hub.url}/graphql",
            {"query": mutation, "variables": variables},
            {"Authorization": f"Bearer {self.tokens['R000001']}"},
        )
        payload = (answer.get("data") or {}).get("bookWindowAppointment") or {}
        appointment = payload.get("appointment")
        if not appointment:
            return {"booked": False, "answer": answer}
        prepare_template(
            self.template, self.env, self.work, [f"R000001:icbc:{appointment['number']}"]
        )
        return {"booked": True, "number": appointment["number"]}

    # -- requests --------------------------------------------------------------------------

    def requests(
        self,
        op: Operation,
        *,
        partner_token: str | None,
        persisted: bool,
        residents: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The HTTP requests of one operation (several when residents rotate)."""
        if op.partner and persisted:
            payload: dict[str, Any] = {
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": op.sha256}}
            }
        else:
            payload = {"query": op.document}
            if op.variables is not None:
                payload["variables"] = op.variables
        body = json.dumps(payload, ensure_ascii=False)
        bearers: list[str | None]
        if op.auth == "resident":
            bearers = [self.tokens[r] for r in (residents or [op.resident or "R000001"])]
        elif op.auth == "partner" and persisted:
            bearers = [partner_token]
        else:
            bearers = [None]
        made = []
        for bearer in bearers:
            headers = {"Content-Type": "application/json"}
            if bearer:
                headers["Authorization"] = f"Bearer {bearer}"
            made.append({"method": "POST", "path": "/graphql", "headers": headers, "body": body})
        return made

    def persisted_works(self, hub: Hub, op: Operation, partner_token: str) -> dict[str, Any]:
        """Whether /graphql runs the partner's document by hash; else it is sent as a query."""
        if not op.in_manifest():
            return {"persisted": False, "status": "pending: document not in the manifest"}
        request = self.requests(op, partner_token=partner_token, persisted=True)[0]
        status, body = http(
            "POST", hub.url + "/graphql", request["body"].encode(), request["headers"]
        )
        answer = json.loads(body) if body.startswith(b"{") else {}
        if status == 200 and answer.get("data") and not answer.get("errors"):
            return {"persisted": True, "status": "persisted (hash only, trusted document)"}
        return {"persisted": False, "status": f"persisted: pending (HTTP {status})"}

    # -- measuring -------------------------------------------------------------------------

    def measure(self, hub: Hub, spec: dict[str, Any]) -> dict[str, Any]:
        """One load-generator run with upstream calls, CPU and memory around it."""
        workers = hub.worker_pids()
        peak_reset = reset_peak(workers)
        before = self.mocks.stats()
        hub_cpu, mock_cpu = cpu_seconds(hub.pids()), self.mocks.cpu_seconds()
        per_worker = [cpu_seconds([pid]) for pid in workers]
        busy = machine_busy_seconds()
        started = time.monotonic()
        timeout = float(spec.get("duration_s", 5)) + float(spec.get("timeout_s", 30)) + 60
        if spec.get("driver") == "wrk":  # C, a fraction of the Python generator's CPU
            result: dict[str, Any] = wrk.run({**spec, "url": hub.url}, work=self.work)
        else:
            result = self.loadgen.run({**spec, "url": hub.url}, timeout_s=timeout)
        wall = time.monotonic() - started
        hub_cpu = cpu_seconds(hub.pids()) - hub_cpu
        per_worker = [cpu_seconds([p]) - c for p, c in zip(workers, per_worker, strict=True)]
        mock_cpu = self.mocks.cpu_seconds() - mock_cpu
        busy = machine_busy_seconds() - busy
        other = max(0.0, busy - hub_cpu - mock_cpu - result["loadgen_cpu_s"])
        calls = stats_delta(before, self.mocks.stats())
        done = max(result["requests"], 1)
        result.update(
            {
                "upstream": calls,
                "calls_per_request": round(calls["total"] / done, 3),
                "hub_cpu_ms_per_request": round(hub_cpu * 1000 / done, 3),
                "cpu_share": {  # of one core, over the run (2 cores = 2.0)
                    "hub": round(hub_cpu / wall, 2),
                    "mocks": round(mock_cpu / wall, 2),
                    "loadgen": round(result["loadgen_cpu_s"] / wall, 2),
                    "other": round(other / wall, 2),  # processes that are not the bench's
                    "workers": [round(c / wall, 2) for c in per_worker],  # of "hub", each
                },
                "memory": {**memory_mb(workers), "workers": len(workers), "peak_reset": peak_reset},
            }
        )
        return result

    def warm(self, hub: Hub, requests: list[dict[str, Any]]) -> dict[str, Any]:
        clients = 4 * hub.workers
        spec = {
            "requests": requests,
            "mode": "closed",
            "concurrency": clients,
            "duration_s": 15,
            "max_requests": max(10 * clients, 2 * len(requests)),  # every resident's, twice
        }
        result = self.loadgen.run({**spec, "url": hub.url}, timeout_s=120)
        return {
            "requests": result["requests"],
            "errors": result["errors"],
            "error_samples": result["error_samples"],
        }


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) // 1024
    import os

    return {
        "cpu": model,
        "cores": os.cpu_count() or 0,
        "memory_mb": memory,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "packages": _versions(),
    }


def source_state(repo: Path = REPO) -> dict[str, Any]:
    """The commit measured and whether the working tree had changes (read-only git); of this
    checkout unless ``repo`` names another."""
    state: dict[str, Any] = {}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        state["commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.splitlines()
        state["uncommitted_files"] = len(changed)
    return state


def _versions() -> dict[str, str]:
    from importlib import metadata

    found = {}
    for name in (
        "strawberry-graphql",
        "graphql-core",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "aiohttp",
        "orjson",
        "aiodataloader",
        "cachetools",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def naive_setting() -> str | None:
    """The hub's switch for loaders, coalescing and caches, if it has one yet."""
    try:
        text = SETTINGS_FILE.read_text(encoding="utf-8")
    except OSError:
        return None
    return "HUB_NAIVE" if "HUB_NAIVE" in text else None


def choose_rate(throughput: float | None) -> dict[str, Any]:
    """300/s when the hub sustains it with headroom here, else half of what it sustains."""
    if throughput is None or throughput >= TARGET_RATE / 0.85:
        return {"rate": TARGET_RATE, "reduced": False}
    return {"rate": max(5.0, round(0.5 * throughput)), "reduced": True}


# -- the run ---------------------------------------------------------------------------------


def probes(bench: Bench, results: dict[str, Any]) -> dict[str, Hub]:
    """First requests on fresh hubs, the appointment booking, and the herd test.

    Operations that share no department (and so no cache or token) share a fresh hub. Every
    hub used later is launched here too, while nothing is being timed, so that their start-up
    does not eat into the time budget; their first catalogue syncs are waited for before the
    first session (``catalogue_settled``).
    """
    ops = {op.name: op for op in bench.ops}
    first = bench.launch_hub("cold-partner", 1)
    others = bench.launch_hub("cold-others", 1)
    bench.ready(first)
    try:
        token = bench.partner_token(first)
        if "partner" in ops:
            _cold(bench, results, first, [ops["partner"]], token)
        if "home" in ops:  # the fifth department of the home screen, in every later hub
            results["appointment"] = bench.book_appointment(first)
    finally:
        bench.stop_hub(first)
    later = {"cold-home": bench.launch_hub("cold-home", 1)} if "home" in ops else {}
    if "home" in ops:
        later["herd"] = bench.launch_hub("herd", 1)
    later["1w"] = bench.launch_hub("1w", 1)
    later["2w"] = bench.launch_hub("2w", 2)
    bench.ready(others)
    try:
        group = [ops[n] for n in ("loans", "courses", "classify", "branches") if n in ops]
        _cold(bench, results, others, group, bench.partner_token(others))
    finally:
        bench.stop_hub(others)
    if "services" in ops:  # the banks' branch lists again: a fresh hub of its own
        hub = bench.ready(bench.launch_hub("cold-services", 1))
        try:
            _cold(bench, results, hub, [ops["services"]], None)
        finally:
            bench.stop_hub(hub)
    if "home" in ops:
        hub = bench.ready(later.pop("cold-home"))
        try:
            _cold(bench, results, hub, [ops["home"]], None)
        finally:
            bench.stop_hub(hub)
        results["herd"] = herd(bench, bench.ready(later.pop("herd")), ops["home"])
    bench.mark("probes done")
    return later


def _cold(
    bench: Bench, results: dict[str, Any], hub: Hub, ops: list[Operation], token: str | None
) -> None:
    catalogue_settled(hub)
    for op in ops:
        view = results["operations"][op.name]
        probe = _probe(bench, hub, op, token or "", persisted=bool(op.partner))
        if op.partner:
            if probe["status"] == 200 and not probe["errors"] and op.in_manifest():
                view["persisted"] = "persisted (hash only, trusted document)"
            else:
                view["persisted"] = f"persisted: pending (HTTP {probe['status']})"
                probe = _probe(bench, hub, op, token or "", persisted=False)
        view["cold"] = probe


def _probe(
    bench: Bench, hub: Hub, op: Operation, partner_token: str, persisted: bool = False
) -> dict[str, Any]:
    request = bench.requests(op, partner_token=partner_token, persisted=persisted)[0]
    before = bench.mocks.stats()
    status, body = http("POST", hub.url + "/graphql", request["body"].encode(), request["headers"])
    calls = stats_delta(before, bench.mocks.stats())
    answer = json.loads(body) if body.startswith(b"{") else {}
    facts = {path: count_path(answer.get("data"), path) for path in op.minimum.get("assumes", {})}
    return {
        "status": status,
        "errors": answer.get("errors"),
        "calls": calls["total"],
        "by_endpoint": calls["by_endpoint"],
        "facts": facts,
    }


def herd(bench: Bench, hub: Hub, op: Operation) -> dict[str, Any]:
    """100 identical home screens at once from one resident, on a cold and then a warm hub."""
    try:
        requests = bench.requests(op, partner_token=None, persisted=False)
        spec = {"requests": requests, "mode": "burst", "concurrency": HERD, "timeout_s": 60}
        catalogue_settled(hub)
        cold = bench.measure(hub, spec)
        time.sleep(0.5)
        warm = bench.measure(hub, spec)
    finally:
        bench.stop_hub(hub)
    return {"requests": HERD, "cold": _herd_view(cold), "warm": _herd_view(warm)}


def catalogue_settled(hub: Hub, timeout_s: float = 60.0) -> None:
    """Wait (bounded) for the hub's first catalogue refresh to end: its calls (the items'
    change feed, the scenario guides: 40–190) and its terms child's CPU are the copy's
    background work, not any request's, and were counted in the cold probes, bursts and
    phases they happened to overlap. With several workers only the lease holder syncs (the
    others answer ``follower`` at once): wait until a worker that holds the lease has ended
    its first refresh (each ``/status`` is a new connection, so any worker may answer)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = http("GET", hub.url + "/status", timeout_s=5)
        catalogue = json.loads(body).get("catalogue", {}) if status == 200 else {}
        if catalogue.get("leader") and catalogue.get("lastOutcome"):
            return
        time.sleep(0.2)


BACKGROUND = ("catalogue ",)
"""Endpoints no request calls: the schema reads the catalogue only from the hub's copy, so
every catalogue call is the copy's sync (a tick every 60 s), counted apart in a burst."""


def _herd_view(result: dict[str, Any]) -> dict[str, Any]:
    calls = result["upstream"]["by_endpoint"]
    background = {e: n for e, n in calls.items() if e.startswith(BACKGROUND)}
    own = {e: n for e, n in calls.items() if e not in background}
    return {
        "ok": result["ok"],
        "errors": result["errors"],
        "error_samples": result["error_samples"],
        "calls": sum(own.values()),
        "by_endpoint": own,
        "background_calls": background,
        "latency_ms": result["latency_ms"],
    }


def session(bench: Bench, results: dict[str, Any], hub: Hub, phases: tuple[str, ...]) -> None:
    """One hub, every operation through the given phases."""
    plan, label = bench.plan, hub.label
    bench.ready(hub)
    # the copy's first sync (a terms child, ~190 calls, SQLite writes the audit commits queue
    # behind) overlapped whichever phase came first; idle memory is with the copy loaded
    catalogue_settled(hub)
    results.setdefault("idle_memory", {})[label] = memory_mb(hub.worker_pids())
    try:
        partner_token = bench.partner_token(hub)
        for op in bench.ops:
            persisted = True
            if op.partner:
                persisted = bench.persisted_works(hub, op, partner_token)["persisted"]
            one = bench.requests(op, partner_token=partner_token, persisted=persisted)
            rotate = LOAD_RESIDENTS if op.auth == "resident" else None
            requests = bench.requests(
                op, partner_token=partner_token, persisted=persisted, residents=rotate
            )
            view = results["operations"][op.name].setdefault("sessions", {}).setdefault(label, {})
            view["warm_up"] = bench.warm(hub, requests)
            throughput = None
            for phase in phases:
                if bench.budget.left() < plan.phase_s + 15 + plan.soak_s:
                    view[phase] = {"skipped": "time budget"}
                    continue
                spec: dict[str, Any] = {"requests": requests}
                if phase == "seq":
                    spec.update(
                        requests=one,
                        mode="closed",
                        concurrency=1,
                        duration_s=30,
                        max_requests=plan.seq_requests,
                    )
                elif phase.startswith("c"):
                    spec.update(mode="closed", concurrency=int(phase[1:]), duration_s=plan.phase_s)
                else:
                    chosen = choose_rate(throughput)
                    spec.update(mode="open", rate=chosen["rate"], duration_s=plan.phase_s)
                if phase == "open0":
                    bench.mocks.faults(latency_ms=0, jitter_ms=0)
                try:
                    measured = bench.measure(hub, spec)
                finally:
                    if phase == "open0":
                        bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
                if phase.startswith("open"):
                    measured["rate_reduced"] = chosen["reduced"]
                if phase.startswith("c"):
                    throughput = measured["throughput_rps"]
                view[phase] = measured
        if bench.budget.left() > plan.connections_s + 10 + plan.soak_s:
            results.setdefault("connections", {})[label] = connections(bench, hub)
    finally:
        bench.stop_hub(hub)
        bench.mark(f"session {label} done")


def connections(bench: Bench, hub: Hub) -> dict[str, Any]:
    """Peak RSS with 1,000 concurrent connections, each with a home screen in flight."""
    op = next((o for o in bench.ops if o.name == bench.plan.connections_op), bench.ops[0])
    rotate = LOAD_RESIDENTS if op.auth == "resident" else None
    requests = bench.requests(op, partner_token=None, persisted=False, residents=rotate)
    spec = {
        "requests": requests,
        "mode": "closed",
        "concurrency": CONNECTIONS,
        "duration_s": bench.plan.connections_s,
        "timeout_s": 60,
    }
    measured = bench.measure(hub, spec)
    measured["operation"] = op.name
    measured["latency_ms"] = measured["latency_ms"]
    return measured


def soak(bench: Bench, results: dict[str, Any]) -> None:
    """Full mode: a mixed workload at a fixed rate, memory read every minute."""
    plan = bench.plan
    bench.mark("soak starts")
    residents = [f"R{n:06d}" for n in range(1, SOAK_RESIDENTS + 1)]
    bench.issue_tokens(residents)
    one = results["operations"]
    rates = [
        one[op.name].get("sessions", {}).get("1w", {}).get("c64", {}).get("throughput_rps")
        for op in bench.ops
    ]
    known = [r for r in rates if r]
    capacity = len(known) / sum(1 / r for r in known) if known else None
    rate = min(100.0, round(0.5 * capacity)) if capacity else 50.0
    hub = bench.ready(bench.launch_hub("soak", 1))
    segments: list[dict[str, Any]] = []
    try:
        minutes = int(plan.soak_s // 60)
        for minute in range(minutes):
            if bench.budget.left() < 70:
                break
            token = bench.partner_token(hub)  # partner tokens live 10 minutes
            per_op = []
            for op in bench.ops:
                persisted = not op.partner or bench.persisted_works(hub, op, token)["persisted"]
                rotate = residents if op.auth == "resident" else None
                per_op.append(
                    bench.requests(op, partner_token=token, persisted=persisted, residents=rotate)
                )
            # round-robin: every operation equally often, residents rotating
            requests = [made[n % len(made)] for n in range(len(residents)) for made in per_op]
            spec = {
                "requests": requests,
                "mode": "open",
                "rate": rate,
                "duration_s": 60.0,
                "timeout_s": 30,
            }
            measured = bench.measure(hub, spec)
            measured["memory"].update(memory_mb(hub.worker_pids()))
            segments.append({"minute": minute + 1, **measured})
    finally:
        bench.stop_hub(hub)
    results["soak"] = {"rate": rate, "segments": segments, "growth": analysis.growth(segments)}


def run(plan: Plan, args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ops = load(args.ops.split(",") if args.ops else None)
    started = time.time()
    results: dict[str, Any] = {
        "mode": plan.mode,
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "background_load_cores": background_load(),
        "source": source_state(),
        "plan": asdict(plan),
        "mock_latency": {"latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS},
        "operations": {
            op.name: {
                "title": op.title,
                "file": f"bench/operations/{op.file}",
                "minimum": op.minimum,
            }
            for op in ops
        },
    }
    bench = Bench(plan, work, ops, args.dev_ports)
    try:
        bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
        results["department_quotas_lifted"] = bench.mocks.lift_quotas()
        bench.issue_tokens(LOAD_RESIDENTS)
        hubs = probes(bench, results)
        for label in ("1w", "2w"):  # launched early: their first syncs would overlap a phase
            catalogue_settled(bench.ready(hubs[label]))
        session(bench, results, hubs["1w"], plan.one_worker)
        session(bench, results, hubs["2w"], plan.two_workers)
        switch = naive_setting()
        if switch:
            naive = bench.launch_hub("naive", 1, {switch: "true"})
            session(bench, results, naive, plan.naive)
            results["naive"] = f"measured with {switch}=true (1 worker)"
        else:
            results["naive"] = "naive mode: needs HUB_NAIVE (not yet in the hub)"
        if plan.soak_s:
            soak(bench, results)
    finally:
        results["hub_start_s"] = bench.hub_start_s
        results["timeline"] = bench.timeline
        bench.stop_all()
    results["elapsed_s"] = round(time.time() - started, 1)
    analysis.annotate(results)
    return results


def output_name(results: dict[str, Any]) -> str:
    day = results["date"][:10]
    cpu = "".join(c if c.isalnum() else "-" for c in results["machine"]["cpu"])
    cpu = "-".join(part for part in cpu.split("-") if part)[:40]
    return f"{day}-{cpu}-{results['machine']['cores']}c-{results['mode']}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="≤ 2 minutes (the default)")
    which.add_argument("--full", action="store_true", help="≤ 15 minutes, with a 10-minute soak")
    parser.add_argument("--ops", help="comma-separated subset of operations")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results go")
    parser.add_argument(
        "--dev-ports",
        action="store_true",
        help="mocks on their dev ports (8101…) instead of free ones",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--soak-seconds", type=float, help="soak length (full mode: 600; a target needs 600)"
    )
    args = parser.parse_args(argv)
    plan = FULL if args.full else QUICK
    if args.soak_seconds is not None:
        extra = args.soak_seconds - plan.soak_s
        plan = replace(plan, soak_s=args.soak_seconds, budget_s=plan.budget_s + max(extra, 0))

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    work = Path(tempfile.mkdtemp(prefix="ihub-bench-"))
    print(f"bench ({plan.mode}): working in {work}", file=sys.stderr)
    try:
        results = run(plan, args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    name = output_name(results)
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    markdown = report.markdown(results)
    (args.out / f"{name}.md").write_text(markdown)
    print(markdown)
    print(f"written: {args.out / name}.md and .json", file=sys.stderr)
    return 0
