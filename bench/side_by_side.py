"""``python -m bench.side_by_side``: the hub next to the Node peer, hub CPU / peer CPU per request.

    python -m bench.side_by_side [--rounds 3] [--seconds 8] [--concurrency 16]
                                 [--residents 200] [--ops classify,courses,loans,home]
                                 [--peer DIR] [--out FILE]

The peer (``/work/shared/peers/node-apollo``, or ``--peer`` / ``HUB_PEER_DIR``) is the same
four operations in Node (Apollo Server 5, DataLoader, an LRU) over the same department mocks;
its code stays where it is: this module copies it into the run's work directory (the shared
folder may be read-only), runs ``npm ci`` there unless the folder already has
``node_modules``, and starts ``node src/server.mjs`` on a snapshot of the hub's seeded
database. Nothing of the peer is part of this repository.

One run: the six mocks at 20 ± 5 ms (quotas lifted), the seeded template, one ICBC
appointment for R000001 (so the home screen reaches all five departments on both), then one
1-worker hub and one peer. Both are warmed (every request of the rotation twice), then
``ROUNDS`` rounds of, per operation, the two back to back in alternating order (A/B, B/A),
closed loop at ``--concurrency`` clients, personal operations rotating across ``--residents``
residents (≥ 200, so that neither side profits from a resident's previous read still in
flight). Per cell: server CPU ms per request from the server process's own utime + stime
(``/proc/PID/stat``), req/s, p50, upstream calls per request, and the 1-minute load average
before and after. The ratio per operation is the median over rounds of hub / peer CPU per
request, each round's pair measured back to back. Latencies on a shared machine are noise;
the CPU per request and the ratio are what to read.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.harness import FULL, JITTER_MS, LATENCY_MS, RESULTS, Bench, catalogue_settled, machine
from bench.ops import Operation, load
from bench.procs import Child, cpu_seconds, memory_mb, spawn
from bench.services import Hub, free_port, http, stats_delta

DEFAULT_PEER = Path(os.environ.get("HUB_PEER_DIR", "/work/shared/peers/node-apollo"))
OPS = "classify,courses,loans,home"


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


class Peer:
    """The Node peer on a snapshot of the template (sql.js reads one file, no WAL)."""

    def __init__(self, source: Path, work: Path, env: dict[str, str], template: Path) -> None:
        self.dir = self._install(source, work)
        var = work / "peer-var"
        var.mkdir(parents=True, exist_ok=True)
        src, dst = sqlite3.connect(template / "hub.db"), sqlite3.connect(var / "hub.db")
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")
        dst.close()
        src.close()
        shutil.copytree(template / "keys", var / "keys", dirs_exist_ok=True)
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        node = shutil.which("node") or "node"
        peer_env = {
            **env,
            "HUB_VAR_DIR": str(var),
            "PEER_PORT": str(port),
            "NODE_ENV": "production",
        }
        self.child: Child = spawn(
            "peer", [node, str(self.dir / "src" / "server.mjs")], env=peer_env, log_dir=work
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise RuntimeError(f"peer exited:\n{self.child.tail()}")
            try:
                if http("GET", self.url + "/healthz", timeout_s=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"peer not ready:\n{self.child.tail()}")

    @staticmethod
    def _install(source: Path, work: Path) -> Path:
        if not (source / "src" / "server.mjs").is_file():
            raise SystemExit(f"no Node peer at {source} (--peer DIR or HUB_PEER_DIR)")
        if (source / "node_modules").is_dir():
            return source
        target = work / "peer"
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("node_modules"))
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=target, capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"npm ci in {target} failed:\n{done.stderr[-2000:]}")
        return target

    @property
    def pid(self) -> int:
        return self.child.pid

    def stop(self) -> None:
        self.child.stop()


def cell(bench: Bench, url: str, pid: int, spec: dict[str, Any]) -> dict[str, Any]:
    load0 = load_average()
    before = bench.mocks.stats()
    cpu0 = cpu_seconds([pid])
    result = bench.loadgen.run({**spec, "url": url}, timeout_s=float(spec["duration_s"]) + 90)
    cpu = cpu_seconds([pid]) - cpu0
    calls = stats_delta(before, bench.mocks.stats())
    done = max(int(result["requests"]), 1)
    return {
        "requests": result["requests"],
        "errors": result["errors"],
        "error_samples": result["error_samples"][:2],
        "rps": result["throughput_rps"],
        "p50_ms": result["latency_ms"]["p50"],
        "cpu_ms_per_request": round(cpu * 1000 / done, 3),
        "calls_per_request": round(calls["total"] / done, 3),
        "load_before": load0,
        "load_after": load_average(),
        "rss_mb": memory_mb([pid])["rss_mb"],
    }


def prepare(bench: Bench, residents: list[str]) -> Any:
    """The mocks at 20 ± 5 ms with their quotas lifted, every resident's token, and one ICBC
    appointment for R000001 (so a home screen reaches all five departments): the booking."""
    bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
    bench.mocks.lift_quotas()
    bench.issue_tokens(sorted({*residents, "R000001"}))
    booker = bench.ready(bench.launch_hub("book", 1))
    try:
        return bench.book_appointment(booker)
    finally:
        bench.stop_hub(booker)


def alternate(
    bench: Bench,
    servers: dict[str, tuple[str, int]],
    ops: list[Operation],
    residents: list[str],
    args: argparse.Namespace,
    log: Callable[[str], None],
) -> dict[str, list[dict[str, Any]]]:
    """Warm each of the two ``servers`` (label → (url, pid)), then ``args.rounds`` rounds of,
    per operation, the two back to back in alternating order: the cells by ``op|label``."""
    rotating = {
        op.name: bench.requests(
            op,
            partner_token=None,
            persisted=False,
            residents=residents if op.auth == "resident" else None,
        )
        for op in ops
    }
    log("warming both")
    for op in ops:
        for url, _pid in servers.values():
            reqs = rotating[op.name]
            spec = {"requests": reqs, "mode": "closed", "concurrency": 4, "duration_s": 30}
            bench.loadgen.run(
                {**spec, "url": url, "max_requests": max(40, 2 * len(reqs))}, timeout_s=120
            )
    first, second = servers
    cells: dict[str, list[dict[str, Any]]] = {}
    for r in range(args.rounds):
        for i, op in enumerate(ops):
            order = [first, second] if (r + i) % 2 == 0 else [second, first]
            for label in order:
                url, pid = servers[label]
                spec = {
                    "requests": rotating[op.name],
                    "mode": "closed",
                    "concurrency": args.concurrency,
                    "duration_s": args.seconds,
                }
                m = cell(bench, url, pid, spec)
                m["round"] = r + 1
                cells.setdefault(f"{op.name}|{label}", []).append(m)
                log(
                    f"r{r + 1} {op.name} {label}: cpu {m['cpu_ms_per_request']} ms/req, "
                    f"{m['rps']} req/s, calls {m['calls_per_request']}, errors {m['errors']}, "
                    f"load {m['load_before']}→{m['load_after']}"
                )
    return cells


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ops = load(args.ops.split(","))
    residents = [f"R{n:06d}" for n in range(1, args.residents + 1)]
    results: dict[str, Any] = {
        "kind": "side-by-side",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.side_by_side " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "plan": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "residents": args.residents,
            "ops": [op.name for op in ops],
            "mock_latency_ms": "20 ± 5",
        },
        "load_average_start": list(os.getloadavg()),
    }
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    bench = Bench(FULL, work, ops, dev_ports=False)
    try:
        results["appointment"] = prepare(bench, residents)
        hub: Hub = bench.ready(bench.launch_hub("1w", 1))
        catalogue_settled(hub)  # the copy's first sync (~190 calls) is no request's CPU
        peer = bench._keep(Peer(args.peer, work, bench.env, bench.template))
        servers = {"hub": (hub.url, hub.worker_pids()[0]), "peer": (peer.url, peer.pid)}
        cells = alternate(bench, servers, ops, residents, args, log)
        results["cells"] = cells
        results["summary"] = summarise(cells, [op.name for op in ops])
    finally:
        bench.stop_all()
    results["load_average_end"] = list(os.getloadavg())
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return results


def summarise(cells: dict[str, list[dict[str, Any]]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        hub, peer = cells.get(f"{name}|hub", []), cells.get(f"{name}|peer", [])
        if not hub or not peer:
            continue
        ratios = [
            h["cpu_ms_per_request"] / p["cpu_ms_per_request"]
            for h, p in zip(hub, peer, strict=False)
            if p["cpu_ms_per_request"] > 0
        ]
        out[name] = {
            "hub_cpu_ms": round(statistics.median(c["cpu_ms_per_request"] for c in hub), 3),
            "peer_cpu_ms": round(statistics.median(c["cpu_ms_per_request"] for c in peer), 3),
            "ratio": round(statistics.median(ratios), 2) if ratios else None,
            "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)] if ratios else None,
            "hub_calls": statistics.median(c["calls_per_request"] for c in hub),
            "peer_calls": statistics.median(c["calls_per_request"] for c in peer),
            "hub_errors": sum(c["errors"] for c in hub),
            "peer_errors": sum(c["errors"] for c in peer),
            "load": [
                min(c["load_before"] for c in hub + peer),
                max(c["load_after"] for c in hub + peer),
            ],
        }
    return out


def markdown(results: dict[str, Any], title: str) -> str:
    lines = [
        f"# {title}",
        "",
        f"- command: `{results['command']}`",
        f"- machine: {results['machine'].get('cpu', '?')}, {results['machine'].get('cores', '?')}"
        " cores, shared with other work (latency is noise; read CPU per request and the ratio)",
        f"- started {results['started']}, finished {results['finished']}; load average at start "
        f"{results['load_average_start']}, at end {results['load_average_end']}",
        f"- plan: {results['plan']}",
        "",
        "| operation | hub CPU ms/req | peer CPU ms/req | hub / peer (median, range) "
        "| upstream calls hub / peer | errors hub / peer | load avg (1 min) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in results["summary"].items():
        lines.append(
            f"| {name} | {s['hub_cpu_ms']} | {s['peer_cpu_ms']} | **{s['ratio']}** "
            f"({s['ratio_range'][0]}–{s['ratio_range'][1]}) | {s['hub_calls']} / {s['peer_calls']} "
            f"| {s['hub_errors']} / {s['peer_errors']} | {s['load'][0]}–{s['load'][1]} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ops", default=OPS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--peer", type=Path, default=DEFAULT_PEER)
    parser.add_argument("--out", type=Path, help="results file stem (default bench/results/…)")
    parser.add_argument("--title", default="Side by side: hub / Node peer, CPU per request")
    args = parser.parse_args(argv)
    # stopped (even as a background job, where SIGINT is ignored): still stop every child
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.residents < 200:
        print("note: fewer than 200 residents lets repeats share in-flight reads", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="hub-sbs-") as tmp:
        results = run(args, Path(tmp))
    stem = args.out or RESULTS / (
        dt.datetime.now(dt.UTC).strftime("%Y-%m-%d-%H%M") + "-side-by-side"
    )
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    stem.with_suffix(".md").write_text(markdown(results, args.title))
    print(markdown(results, args.title))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
