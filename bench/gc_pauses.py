"""The cycle collector's pauses in a hub worker under load, by generation.

    python -m bench.gc_pauses [--ops loans,home] [--clients 16] [--seconds 10] [--env K=V …]

Starts the mocks and a 1-worker hub like ``python -m bench`` (``--env`` adds hub settings, e.g.
``HUB_GC_FREEZE=false`` for an A/B), waits for its first catalogue refresh, warms each
operation, then keeps ``--clients`` requests in flight for ``--seconds`` (personal operations
rotating over the bench's residents) and reads ``ihub_gc_pause_seconds`` from ``/metrics``
before and after: per generation, collections, their total and mean pause, and the largest
bucket any reached; with the hub's CPU per request, throughput and p99 of the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import LATENCY_MS, LOAD_RESIDENTS, QUICK, Bench, catalogue_settled, http
from bench.ops import load

_SAMPLE = re.compile(r"^ihub_gc_pause_seconds_(count|sum|bucket)\{(.*)\} (\S+)$")


def pauses(url: str) -> dict[str, dict[str, Any]]:
    """``{generation: {"count", "sum", "buckets": {le: count}}}`` from ``/metrics``."""
    status, body = http("GET", url + "/metrics", timeout_s=10)
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    found: dict[str, dict[str, Any]] = {}
    for line in body.decode().splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        kind, labels, value = match.groups()
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        entry = found.setdefault(fields["generation"], {"count": 0.0, "sum": 0.0, "buckets": {}})
        if kind == "bucket":
            entry["buckets"][fields["le"]] = float(value)
        else:
            entry[kind] = float(value)
    return found


def between(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What happened between two readings, per generation."""
    result = {}
    for generation, now in sorted(after.items()):
        then = before.get(generation, {"count": 0.0, "sum": 0.0, "buckets": {}})
        count = now["count"] - then["count"]
        total = now["sum"] - then["sum"]
        largest = "-"
        previous = 0.0
        for le, value in now["buckets"].items():  # in increasing order of ``le``
            grown = value - then["buckets"].get(le, 0.0)
            if grown > previous:
                largest = le
            previous = grown
        result[generation] = {
            "collections": int(count),
            "total_ms": round(total * 1000, 1),
            "mean_ms": round(total * 1000 / count, 2) if count else None,
            "largest_at_most_s": largest,
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gc_pauses", description=__doc__)
    parser.add_argument("--ops", default="loans,home")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--env", action="append", default=[], help="K=V for the hub")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    work = Path(tempfile.mkdtemp(prefix="ihub-gc-"))
    ops = load(args.ops.split(","))
    bench = Bench(QUICK, work, ops, dev_ports=False)
    try:
        bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=LATENCY_MS / 4)
        bench.mocks.lift_quotas()
        bench.issue_tokens(LOAD_RESIDENTS)
        hub = bench.ready(bench.launch_hub("gc", 1, extra))
        catalogue_settled(hub)
        token = bench.partner_token(hub)
        for op in ops:
            rotate = LOAD_RESIDENTS if op.auth == "resident" else None
            requests = bench.requests(
                op, partner_token=token, persisted=bool(op.partner), residents=rotate
            )
            bench.warm(hub, requests)
            before = pauses(hub.url)
            spec = {
                "requests": requests,
                "mode": "closed",
                "concurrency": args.clients,
                "duration_s": args.seconds,
            }
            measured = bench.measure(hub, spec)
            report = {
                "operation": op.name,
                "env": extra,
                "requests": measured["requests"],
                "throughput_rps": measured["throughput_rps"],
                "p99_ms": measured["latency_ms"]["p99"],
                "hub_cpu_ms_per_request": measured["hub_cpu_ms_per_request"],
                "gc": between(before, pauses(hub.url)),
            }
            print(json.dumps(report))
    finally:
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
