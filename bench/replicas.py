"""``python -m bench.replicas``: throughput of 1 worker, 2 workers and 3 replicas behind HAProxy.

The same mocks (20 ± 5 ms a call, the departments' quotas lifted), the same load generator
and the same requests as ``bench.harness`` (residents rotating), one closed loop of
``--clients`` clients for ``--seconds`` per operation and cell, after a warm-up:

- ``1w``: one hub, one uvicorn worker, its own SQLite file, in-process state (the default);
- ``2w``: the same with 2 workers under ``ihub serve --workers``' supervisor, a listening
  socket each (``SO_REUSEPORT``: the kernel spreads connections; what issue 16 asks to be
  ≥ 1.8× ``1w``);
- ``2s`` (only with ``--cells``): 2 workers under uvicorn's own ``--workers`` on one shared
  socket, as ``ihub serve`` ran them before: the first worker to wake accepts most of the
  load generator's connections;
- ``3r``: three hubs of one worker each on one PostgreSQL database (``HUB_BENCH_DATABASE_URL``,
  emptied first) and one Redis (``HUB_BENCH_REDIS_URL``, or a redis-server of this run's own),
  behind HAProxy running ``deploy/haproxy.cfg`` (round-robin, health checks on ``/readyz``).
  Without ``HUB_BENCH_DATABASE_URL`` or ``haproxy`` the cell is skipped and says why.

``--driver wrk`` drives the closed loops with ``wrk`` (``bench.wrk``; Debian: ``apt-get install
-y wrk``) instead of the Python load generator, which itself needs about a core at these rates
on the same two cores; the warm-up stays Python's. The report gives the cores used by the hub,
the load generator, the mocks and processes that are not the bench's.

The machine's load average is read around every cell: on a machine shared with other work the
figures are noisy, and the report says so. Writes
``bench/results/<date>-replicas[-<suffix>].{md,json}``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bench import wrk
from bench.harness import JITTER_MS, LATENCY_MS, LOAD_RESIDENTS, QUICK, Bench, machine, source_state
from bench.ops import load
from bench.procs import Child, background_load, spawn
from bench.services import Hub, free_port
from bench.shared_state import _redis

RESULTS = Path(__file__).resolve().parent / "results"
HAPROXY_CFG = Path(__file__).resolve().parent.parent / "deploy" / "haproxy.cfg"
OPERATIONS = ("classify", "branches", "courses", "home")
CELLS = ("1w", "2s", "2w", "3r")
SHARED_KEY = "cd" * 32
"""The applicant-reference key every hub of a run shares (replicas must: it is in the
idempotency fingerprints and the banks' applicant references)."""


class Balanced:
    """Three replicas behind HAProxy, measured as one hub: its URL is the load balancer's."""

    def __init__(self, label: str, replicas: list[Hub], balancer: Child, port: int) -> None:
        self.label, self.replicas, self.balancer = label, replicas, balancer
        self.workers = len(replicas)
        self.url = f"http://127.0.0.1:{port}"
        self.start_s: float | None = None

    def wait_ready(self) -> Balanced:
        started = time.monotonic()
        for replica in self.replicas:
            replica.wait_ready()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not self.balancer.alive():
                raise RuntimeError(f"haproxy exited:\n{self.balancer.tail()}")
            served = set()
            with contextlib.suppress(OSError):
                for _ in range(len(self.replicas)):
                    served.add(_replica_header(self.url))
            if len(served) == len(self.replicas):
                self.start_s = round(time.monotonic() - started, 2)
                return self
            time.sleep(0.2)
        raise RuntimeError("haproxy never routed to every replica")

    def worker_pids(self) -> list[int]:
        return [pid for replica in self.replicas for pid in replica.worker_pids()]

    def pids(self) -> list[int]:
        return [pid for hub in self.replicas for pid in hub.pids()] + self.balancer.pids()

    def stop(self) -> None:
        self.balancer.stop()
        for replica in self.replicas:
            replica.stop()


def _replica_header(url: str) -> str | None:
    import urllib.request

    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as response:  # noqa: S310 (loopback)
        return response.headers.get("X-Ihub-Replica")


def _empty_database(url: str) -> None:
    from hub.store.db import drop_tables, make_engine

    engine = make_engine(url)
    try:
        drop_tables(engine)
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per operation and cell")
    parser.add_argument("--clients", type=int, default=64, help="closed-loop clients")
    parser.add_argument("--ops", default=",".join(OPERATIONS))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--suffix", default="", help="results file name: <date>-replicas-SUFFIX")
    parser.add_argument(
        "--driver", choices=("python", "wrk"), default="python", help="the closed loops' client"
    )
    parser.add_argument(
        "--cells", default="1w,2w,3r", help=f"of {','.join(CELLS)} (2s: 2 workers, one socket)"
    )
    parser.add_argument(
        "--report", type=Path, help="only rewrite the Markdown report of this results JSON"
    )
    args = parser.parse_args(argv)
    chosen = args.cells.split(",")
    if set(chosen) - set(CELLS):
        parser.error(f"--cells: of {','.join(CELLS)}")
    if args.driver == "wrk" and wrk.available() is None:
        parser.error("--driver wrk needs wrk (Debian: apt-get install -y wrk)")
    if args.report:
        results = json.loads(args.report.read_text())
        args.report.with_suffix(".md").write_text(report(results))
        return 0
    work = Path(tempfile.mkdtemp(prefix="ihub-replicas-bench-"))
    ops = load(args.ops.split(","))
    results: dict[str, Any] = {
        "command": "python -m bench.replicas " + " ".join(argv or sys.argv[1:]),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": machine(),
        "source": source_state(),
        "background_load_cores": background_load(),
        "seconds": args.seconds,
        "clients": args.clients,
        "driver": args.driver,
        "mock_latency": {"latency_ms": LATENCY_MS, "jitter_ms": JITTER_MS},
        "cells": {},
    }
    server: subprocess.Popen[bytes] | None = None
    bench = Bench(QUICK, work, ops, dev_ports=False)
    try:
        bench.env["HUB_APPLICANT_REF_KEY"] = SHARED_KEY
        bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
        bench.mocks.lift_quotas()
        bench.issue_tokens(LOAD_RESIDENTS)
        every: list[tuple[str, Any]] = [
            ("1w", lambda: bench.launch_hub("1w", 1)),
            ("2s", lambda: bench.launch_hub("2s", 2, shared_socket=True)),
            ("2w", lambda: bench.launch_hub("2w", 2)),
        ]
        cells = [(label, launch) for label, launch in every if label in chosen]
        database_url = os.environ.get("HUB_BENCH_DATABASE_URL")
        haproxy = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
        )
        if "3r" not in chosen:
            pass
        elif database_url and haproxy:
            redis_url, server = _redis(work)

            def three() -> Balanced:
                assert database_url is not None and haproxy is not None
                _empty_database(database_url)
                shared = {
                    **bench.env,
                    "HUB_REDIS_URL": redis_url,
                    "HUB_REDIS_PREFIX": f"bench-{uuid.uuid4().hex}:",
                    "HUB_YOUTH_APP_CALLS_PER_SECOND": "1000000",
                    "HUB_CCB_APP_MAX_CONCURRENCY": "100000",
                }
                from bench.services import prepare_template

                template = work / "template-pg"
                shutil.copytree(bench.template, template)
                prepare_template(template, shared, work, database_url=database_url)
                replicas = [
                    Hub(f"3r-{n}", workers=1, template=template, work=work, env=shared,
                        database_url=database_url)
                    for n in range(1, 4)
                ]  # fmt: skip
                port = free_port()
                lb_env = {
                    **os.environ,
                    "IHUB_LB_BIND": f"127.0.0.1:{port}",
                    **{
                        f"IHUB_REPLICA_{n}": f"127.0.0.1:{h.port}"
                        for n, h in enumerate(replicas, 1)
                    },
                }
                balancer = spawn(
                    "haproxy", [haproxy, "-db", "-f", str(HAPROXY_CFG)], env=lb_env, log_dir=work
                )
                group = Balanced("3r", replicas, balancer, port)
                bench.running.append(group)
                return group

            cells.append(("3r", three))
        else:
            results["cells"]["3r"] = {
                "skipped": "needs HUB_BENCH_DATABASE_URL (PostgreSQL) and haproxy"
            }
        for label, launch in cells:
            results["cells"][label] = cell(bench, launch(), ops, args)
    finally:
        bench.stop_all()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    results["ratios"] = ratios(results["cells"])
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{results['date'][:10]}-replicas" + (f"-{args.suffix}" if args.suffix else "")
    (args.out / f"{name}.json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    markdown = report(results)
    (args.out / f"{name}.md").write_text(markdown)
    print(markdown)
    return 0


def cell(bench: Bench, hub: Any, ops: list[Any], args: argparse.Namespace) -> dict[str, Any]:
    """Every operation through one closed loop on ``hub``; load average before and after."""
    hub.wait_ready()
    view: dict[str, Any] = {"load_average_before": os.getloadavg(), "operations": {}}
    try:
        partner = bench.partner_token(hub)
        for op in ops:
            persisted = not op.partner or bench.persisted_works(hub, op, partner)["persisted"]
            rotate = LOAD_RESIDENTS if op.auth == "resident" else None
            requests = bench.requests(
                op, partner_token=partner, persisted=persisted, residents=rotate
            )
            bench.warm(hub, requests)
            spec = {
                "requests": requests,
                "mode": "closed",
                "concurrency": args.clients,
                "duration_s": args.seconds,
            }
            if args.driver == "wrk":
                spec["driver"] = "wrk"
            measured = bench.measure(hub, spec)
            view["operations"][op.name] = {
                "title": op.title,
                "throughput_rps": measured["throughput_rps"],
                "requests": measured["requests"],
                "errors": measured["errors"],
                "error_samples": measured["error_samples"][:3],
                "latency_ms": measured["latency_ms"],
                "calls_per_request": measured["calls_per_request"],
                "cpu_share": measured["cpu_share"],
            }
    finally:
        view["load_average_after"] = os.getloadavg()
        hub.stop()
        if hub in bench.running:
            bench.running.remove(hub)
    return view


def ratios(cells: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    one = cells.get("1w", {}).get("operations", {})
    found: dict[str, dict[str, float | None]] = {}
    for label in CELLS[1:]:
        other = cells.get(label, {}).get("operations", {})
        for name, measured in other.items():
            base = one.get(name, {}).get("throughput_rps")
            value = measured.get("throughput_rps")
            found.setdefault(name, {})[f"{label}/1w"] = (
                round(value / base, 2) if base and value else None
            )
    return found


CELL_TITLES = {
    "1w": "1w: one uvicorn worker",
    "2s": "2s: 2 workers on one shared socket (uvicorn --workers 2)",
    "2w": "2w: 2 workers, a socket each (ihub serve --workers 2, SO_REUSEPORT)",
    "3r": "3r: three 1-worker replicas on one PostgreSQL and one Redis behind HAProxy",
}


def report(results: dict[str, Any]) -> str:
    machine_ = results["machine"]
    cells = results["cells"]
    labels = [c for c in CELLS if c in cells]
    measured = [c for c in labels if "operations" in cells[c]]
    driver = results.get("driver", "python")
    client = (
        "wrk (C; `--driver wrk`, 2 threads)" if driver == "wrk" else "the Python load generator"
    )
    lines = [
        "# 1 worker vs 2 workers vs 3 replicas behind HAProxy",
        "",
        f"`{results['command'].strip()}` on {results['date']}, commit "
        f"{results['source'].get('commit')}: {machine_['cpu']}, {machine_['cores']} cores, "
        f"{machine_['memory_mb']} MB, Python {machine_['python']}.",
        f"{results['clients']} closed-loop clients ({client}) for {results['seconds']:.0f} s "
        f"per operation and cell after a warm-up; mocks at {LATENCY_MS:.0f} ± {JITTER_MS:.0f} "
        "ms, quotas lifted. 1w, 2s and 2w: SQLite, in-process state. Cells: "
        + "; ".join(CELL_TITLES[c] for c in labels)
        + ".",
        "",
        f"**Noisy figures**: other work was running on this machine (cores busy before the run: "
        f"{results['background_load_cores']}; load averages per cell below). The hubs, the "
        "mocks, the load generator, PostgreSQL, Redis and HAProxy all share the same cores.",
        "",
        "| operation | "
        + " | ".join(f"{c} req/s" for c in measured)
        + " | "
        + " | ".join(f"{c}/1w" for c in measured if c != "1w")
        + f" | errors {'/'.join(measured)} |",
        "|---" * (2 * len(measured)) + "|---|",
    ]
    names = list(cells.get("1w", {}).get("operations", {}))
    for name in names:
        row = [cells[c].get("operations", {}).get(name, {}) for c in measured]
        ratio = results["ratios"].get(name, {})
        title = row[0].get("title", name)
        rps = [str(r.get("throughput_rps", "—")) for r in row]
        shares = [str(ratio.get(f"{c}/1w", "—")) for c in measured if c != "1w"]
        errors = "/".join(str(r.get("errors", "—")) for r in row)
        lines.append(f"| {title} | {' | '.join(rps)} | {' | '.join(shares)} | {errors} |")
    lines += [
        "",
        f"Cores used during each closed loop (of {machine_['cores']}): hub = the hub's "
        "processes (all workers or replicas and HAProxy) / gen = the load generator / mocks = "
        "the department mocks / other = processes that are not the bench's (for 3r these "
        "include the PostgreSQL server the replicas share; Redis is the bench's own):",
        "",
        "| operation | " + " | ".join(f"{c} hub/gen/mocks/other" for c in measured) + " |",
        "|---" * (len(measured) + 1) + "|",
    ]
    others: list[float] = []
    for name in names:
        cores = []
        for label in measured:
            share = cells[label].get("operations", {}).get(name, {}).get("cpu_share")
            if share:
                others.append(share["other"])
                cores.append(
                    f"{share['hub']:.2f} / {share.get('loadgen', 0):.2f} / "
                    f"{share.get('mocks', 0):.2f} / {share['other']:.2f}"
                )
            else:
                cores.append("—")
        lines.append(f"| {name} | {' | '.join(cores)} |")
    lines.append("")
    spread = [
        f"{name} {label} " + " + ".join(f"{c:.2f}" for c in share)
        for name in names
        for label in measured
        if label in ("2s", "2w")
        and len(share := cells[label]["operations"].get(name, {}).get("cpu_share", {})
                .get("workers", [])) > 1
    ]  # fmt: skip
    if spread:
        lines += ["Cores of each worker (2s, 2w): " + "; ".join(spread) + ".", ""]
    if others and max(others) > 0.3:
        lines += [
            f"Other work took up to {max(others):.2f} of the {results['machine']['cores']} "
            "cores during the loops: the hub never had two cores to itself, so this run "
            "cannot show whether 2 workers reach 1.8× one worker. Rerun on an idle machine "
            "to judge it.",
            "",
        ]
    for label in labels:
        view = cells[label]
        if "skipped" in view:
            lines.append(f"- {label}: skipped ({view['skipped']})")
        else:
            before = ", ".join(f"{x:.2f}" for x in view["load_average_before"])
            after = ", ".join(f"{x:.2f}" for x in view["load_average_after"])
            lines.append(f"- {label}: load average {before} before, {after} after")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
