"""``python -m bench.herd``: the full run's herd probe alone, repeated on fresh hubs.

100 identical home screens at once from one resident (R000001), on a fresh hub (cold: no
token, no cache) and again on the same hub half a second later (warm), as ``bench.harness``
measures it once per full run; here ``--hubs`` times over, a fresh hub each, because a cold
burst depends on timing that one run may or may not hit. Mocks at 20 ± 5 ms, quotas lifted.
Prints per hub the upstream calls of each burst and every endpoint called more than once
beyond what one request calls (the locks' gateways, the bank's item lists and the youth
center's courses are several calls of one request). ``--out FILE`` also writes the lines
as Markdown, with the command and the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from bench.harness import FULL, JITTER_MS, LATENCY_MS, LOAD_RESIDENTS, Bench, herd, machine
from bench.ops import load

MANY_IN_ONE = frozenset(
    {
        "locks GET /v3/gateway/listByLock",
        "icbc POST /api/gov.item.list",
        "youth GET /api/v1/courses/{course_id}",
    }
)
"""Endpoints one home screen calls several times (one call per lock, per item list, per
course): their counts are not repeats."""


def repeats(view: dict[str, Any]) -> dict[str, int]:
    return {e: n for e, n in view["by_endpoint"].items() if n > 1 and e not in MANY_IN_ONE}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.herd", description=__doc__)
    parser.add_argument("--hubs", type=int, default=5, help="fresh hubs, one cold burst each")
    parser.add_argument("--out", type=Path, help="also write the results here (Markdown)")
    args = parser.parse_args(argv)
    op = load(["home"])[0]
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ihub-herd-") as work:
        bench = Bench(FULL, Path(work), [op], False)
        try:
            bench.mocks.faults(latency_ms=LATENCY_MS, jitter_ms=JITTER_MS)
            bench.mocks.lift_quotas()
            bench.issue_tokens(LOAD_RESIDENTS)
            for n in range(args.hubs):
                result = herd(bench, bench.ready(bench.launch_hub(f"herd-{n}", 1)), op)
                cold, warm = result["cold"], result["warm"]
                errors = cold["errors"] + warm["errors"]
                line = (
                    f"| {n + 1} | {cold['calls']} | {repeats(cold) or '—'} "
                    f"| {warm['calls']} | {repeats(warm) or '—'} | {errors} |"
                )
                print(line, flush=True)
                lines.append(line)
        finally:
            bench.stop_all()
    if args.out:
        info = machine()
        head = [
            "# 100 identical home screens at once, on fresh hubs",
            "",
            f"- command: `python -m bench.herd --hubs {args.hubs}`",
            f"- machine: {info['cpu']}, {info['cores']} cores; "
            f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}",
            f"- mocks at {LATENCY_MS} ± {JITTER_MS} ms; one worker per hub",
            "",
            "| hub | cold: calls | cold: repeated | warm: calls | warm: repeated | errors |",
            "|---:|---:|---|---:|---|---:|",
        ]
        args.out.write_text("\n".join(head + lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
