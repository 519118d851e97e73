"""Two revisions of the hub side by side: this checkout's CPU per request / another's.

    python -m bench.ab --base DIR [--ops home,loans] [--rounds 6] [--seconds 6]
                       [--concurrency 16] [--residents 200] [--out FILE]

``DIR`` is a checkout of the other revision (``git worktree add --detach DIR REV``), run with
this checkout's virtualenv: both hubs use the same installed libraries, so only our code
differs. One run: the mocks at 20 ± 5 ms (quotas lifted) as in ``bench.side_by_side``, a
1-worker hub from each checkout on its own copy of the seeded template, both warmed, then
``ROUNDS`` rounds of, per operation, the two back to back in alternating order, closed loop at
``--concurrency`` clients, personal operations rotating across ``--residents`` residents. The
ratio per operation is the median over rounds of this checkout's CPU per request / the
base's, each round's pair measured back to back, so that a slower minute of a shared machine
hits both. What a change saves is read from the ratio, not from either figure alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.harness import (
    FULL,
    Bench,
    catalogue_settled,
    machine,
    source_state,
)
from bench.ops import load
from bench.side_by_side import alternate, prepare


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    ops = load(args.ops.split(","))
    residents = [f"R{n:06d}" for n in range(1, args.residents + 1)]
    base = Path(args.base).resolve()
    results: dict[str, Any] = {
        "kind": "ab",
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.ab " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "base": str(base),
        "source": {"this": source_state(), "base": source_state(base)},
        "plan": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "residents": args.residents,
            "ops": [op.name for op in ops],
            "mock_latency_ms": "20 ± 5",
        },
    }
    log = lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)  # noqa: E731
    bench = Bench(FULL, work, ops, dev_ports=False)
    try:
        results["appointment"] = prepare(bench, residents)
        hubs = {
            "this": bench.ready(bench.launch_hub("this", 1)),
            "base": bench.ready(bench.launch_hub("base", 1, checkout=base)),
        }
        for hub in hubs.values():
            catalogue_settled(hub)
        servers = {label: (hub.url, hub.worker_pids()[0]) for label, hub in hubs.items()}
        cells = alternate(bench, servers, ops, residents, args, log)
        results["cells"] = cells
        results["summary"] = summarise(cells, [op.name for op in ops])
    finally:
        bench.stop_all()
    results["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return results


def summarise(cells: dict[str, list[dict[str, Any]]], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in names:
        this, base = cells.get(f"{name}|this", []), cells.get(f"{name}|base", [])
        ratios = [
            t["cpu_ms_per_request"] / b["cpu_ms_per_request"]
            for t, b in zip(this, base, strict=False)
            if b["cpu_ms_per_request"] > 0
        ]
        if not ratios:
            continue
        out[name] = {
            "this_cpu_ms": round(statistics.median(c["cpu_ms_per_request"] for c in this), 3),
            "base_cpu_ms": round(statistics.median(c["cpu_ms_per_request"] for c in base), 3),
            "ratio": round(statistics.median(ratios), 3),
            "ratio_range": [round(min(ratios), 3), round(max(ratios), 3)],
            "this_calls": round(statistics.median(c["calls_per_request"] for c in this), 3),
            "base_calls": round(statistics.median(c["calls_per_request"] for c in base), 3),
            "errors": sum(c["errors"] for c in this + base),
        }
    return out


def markdown(results: dict[str, Any]) -> str:
    lines = [
        "# A/B: this checkout / base, hub CPU per request",
        "",
        f"- command: `{results['command']}`",
        f"- machine: {results['machine'].get('cpu', '?')}, {results['machine'].get('cores', '?')}"
        " cores (latency is noise on a shared machine; read CPU per request and the ratio)",
        f"- this: {_state(results, 'this')}; base: {_state(results, 'base')} ({results['base']})",
        f"- started {results['started']}, finished {results['finished']}",
        f"- plan: {results['plan']}",
        "",
        "| operation | this CPU ms/req | base CPU ms/req | this / base (median, range) "
        "| upstream calls this / base | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in results["summary"].items():
        low, high = s["ratio_range"]
        lines.append(
            f"| {name} | {s['this_cpu_ms']} | {s['base_cpu_ms']} | **{s['ratio']}** "
            f"({low}–{high}) | {s['this_calls']} / {s['base_calls']} | {s['errors']} |"
        )
    return "\n".join(lines) + "\n"


def _state(results: dict[str, Any], which: str) -> str:
    state = results.get("source", {}).get(which, {})
    dirty = state.get("uncommitted_files")
    return f"commit {state.get('commit', '?')}" + (f" + {dirty} changed files" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="a checkout of the other revision")
    parser.add_argument("--ops", default="home,loans")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    if args.residents < 200:
        parser.error("--residents must be at least 200")
    if not (Path(args.base) / "hub").is_dir():
        parser.error(f"--base {args.base}: not a checkout of the hub")
    with tempfile.TemporaryDirectory(prefix="ihub-ab-") as tmp:
        results = run(args, Path(tmp))
    text = markdown(results)
    print(text)
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        args.out.with_suffix(".md").write_text(text)
    return 0 if all(s["errors"] == 0 for s in results["summary"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
