"""Where the hub's CPU goes for one operation: py-spy on a hub worker under load.

    python -m bench.profile home [--clients 16] [--seconds 10] [--latency-ms 20] [--out DIR]

Starts the mocks and a 1-worker hub like ``python -m bench``, warms the operation up, then
samples the hub with py-spy while the load generator keeps ``--clients`` requests in flight.
Prints the CPU time by area (server, Starlette, strawberry, graphql-core, hub, schema,
connectors, aiohttp, database, crypto …) and the heaviest frames, and writes a flame graph
(SVG) and the raw samples to ``--out``. py-spy is a profiling tool, not a project dependency:
``.venv/bin/pip install py-spy`` (it samples another process, so run as root or with ptrace
allowed).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.harness import LATENCY_MS, LOAD_RESIDENTS, QUICK, Bench, catalogue_settled
from bench.ops import load

AREAS = (
    ("hub/", "hub"),
    ("schema/", "schema"),
    ("connectors/", "connectors"),
    ("uvicorn/", "server (uvicorn, httptools)"),
    ("httptools", "server (uvicorn, httptools)"),
    ("starlette/", "Starlette"),
    ("strawberry/", "strawberry"),
    ("graphql/", "graphql-core"),
    ("aiohttp/", "aiohttp client"),
    ("multidict", "aiohttp client"),
    ("yarl/", "aiohttp client"),
    ("sqlalchemy/", "database (SQLAlchemy, sqlite3)"),
    ("sqlmodel/", "database (SQLAlchemy, sqlite3)"),
    ("sqlite3/", "database (SQLAlchemy, sqlite3)"),
    ("jwt/", "crypto (JWT, RSA signatures)"),
    ("cryptography/", "crypto (JWT, RSA signatures)"),
    ("aiodataloader", "aiodataloader"),
    ("cachetools/", "cachetools"),
    ("asyncio/", "event loop (asyncio, uvloop)"),
    ("uvloop/", "event loop (asyncio, uvloop)"),
    ("concurrent/", "threads (to_thread)"),
    ("threading.py", "threads (to_thread)"),
    ("json/", "JSON"),
    ("orjson", "JSON"),
    ("logging/", "logging"),
    ("contextlib.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
    ("functools.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
    ("inspect.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
    ("typing.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
    ("dataclasses.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
    ("enum.py", "stdlib helpers (contextlib, functools, inspect, typing …)"),
)


def area(frame: str) -> str:
    """The area of a py-spy frame ``function (path/file.py:line)``, by its path."""
    path = frame.rsplit("(", 1)[-1].split(":", 1)[0]
    for marker, name in AREAS:
        if path.startswith(marker):
            return name
    return "other"


def summarise(raw: Path, top: int = 25) -> str:
    """Self time by area, and the heaviest frames of our own code (inclusive)."""
    total = 0
    by_area: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        by_area[area(frames[-1])] += samples
        for frame in dict.fromkeys(f.rsplit(":", 1)[0] for f in frames):
            if any(part in frame for part in ("(hub/", "(schema/", "(connectors/")):
                ours[frame + ")"] += samples
    if not total:
        return "no samples"
    lines = [f"{total} samples", "", "CPU (self time) by area:"]
    lines += [f"  {n / total * 100:5.1f} %  {name}" for name, n in by_area.most_common()]
    lines += ["", f"heaviest frames of hub/, schema/, connectors/ (inclusive, top {top}):"]
    lines += [f"  {n / total * 100:5.1f} %  {frame}" for frame, n in ours.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profile",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("operation")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument(
        "--gil",
        action="store_true",
        help="sample only the thread holding the GIL (Python CPU; idle waits left out)",
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "ihub-profile")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: .venv/bin/pip install py-spy", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ihub-profile-"))
    ops = load([args.operation])
    bench = Bench(QUICK, work, ops, dev_ports=False)
    try:
        bench.mocks.faults(latency_ms=args.latency_ms, jitter_ms=args.latency_ms / 4)
        bench.mocks.lift_quotas()
        bench.issue_tokens(LOAD_RESIDENTS)
        hub = bench.ready(bench.launch_hub("profile", 1))
        catalogue_settled(hub)  # the copy's first sync is no request's CPU
        op = ops[0]
        token = bench.partner_token(hub)
        rotate = LOAD_RESIDENTS if op.auth == "resident" else None
        requests = bench.requests(
            op, partner_token=token, persisted=bool(op.partner), residents=rotate
        )
        bench.warm(hub, requests)
        pid = str(hub.worker_pids()[0])
        raw, svg = args.out / f"{op.name}.txt", args.out / f"{op.name}.svg"
        spec = {
            "requests": requests,
            "mode": "closed",
            "concurrency": args.clients,
            "duration_s": args.seconds,
        }
        for output, fmt in ((raw, "raw"), (svg, "flamegraph")):
            sampler = subprocess.Popen(
                [
                    spy,
                    "record",
                    "-p",
                    pid,
                    "-d",
                    str(args.seconds),
                    "-r",
                    "250",
                    "--nonblocking",
                    *(["--gil"] if args.gil else []),
                    "-f",
                    fmt,
                    "-o",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                measured = bench.measure(hub, spec)
                sampler.wait(timeout=args.seconds + 30)
            finally:
                if sampler.poll() is None:
                    sampler.kill()
                    sampler.wait()
        keys = ("throughput_rps", "latency_ms", "hub_cpu_ms_per_request", "calls_per_request")
        print(json.dumps({k: measured[k] for k in keys}))
        print(summarise(raw))
        print(f"\nflame graph: {svg}\nraw samples: {raw}")
    finally:
        bench.stop_all()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
