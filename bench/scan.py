"""``python -m bench.scan --population N``: the proactive eligibility scan over N registry persons.

The population mock runs alone in a process of its own (``bench.mockproc`` with
``HUB_MOCKS_POPULATION=N``, a free loopback port, the exchange's rate limit as it is); this
process is the hub's side: the population connector with the hub's dev policy for the
department, the export's columns, numpy, ``hub.offers.scan``. The four proactive items are
scanned one after the other, each from the start, into a sink that only counts (what an
offers store would write is not measured here). Recorded: per item the seconds, pages, rows
read, candidates (NOW / UPCOMING) and the CPU seconds of each side; the hub process's peak RSS
(``getrusage`` maxrss) and the mock's RSS and peak (``VmRSS`` / ``VmHWM``); the machine
(``nproc``, ``uname -m``, CPU model) and its load before the run. Target (issue 14): a million
persons in under 60 s and under 1 GB. Writes ``bench/results/<date>-scan-<N>.{json,md}``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import machine, source_state
from bench.procs import Child, background_load, cpu_seconds, memory_mb, spawn
from bench.services import wait_for
from connectors.population import PopulationConnector
from hub.approvals import approval_clock
from hub.offers.proactive import PROACTIVE
from hub.offers.scan import scan
from hub.settings import department_policy

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_S, TARGET_MB = 60.0, 1024.0


class CountingSink:
    """Counts candidates by reason, keeps nothing."""

    def __init__(self) -> None:
        self.reasons: Counter[str] = Counter()

    async def accept(self, candidates: list[Any], cursor: str | None) -> None:
        self.reasons.update(c.reason.value for c in candidates)


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def _hub_peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _hub_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def start_mock(population: int, work: Path) -> tuple[Child, str]:
    ready = work / "mock-population.ready"
    argv = [sys.executable, "-m", "bench.mockproc", "population", str(work), str(ready), "0"]
    env = {**os.environ, "HUB_MOCKS_POPULATION": str(population)}
    child = spawn("mock-population", argv, env=env, log_dir=work)
    wait_for("mock population", ready.exists, child, 120)
    return child, json.loads(ready.read_text())["url"]


async def scan_all(url: str, mock: Child, page_size: int) -> dict[str, Any]:
    today = approval_clock(None)()  # the Shanghai date, as the mock's as_of
    policy = department_policy({"HUB_POPULATION_URL": url}, "population")
    items: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session:
        population = PopulationConnector(session, policy)
        for code, item in PROACTIVE.items():
            sink = CountingSink()
            hub_cpu, mock_cpu = _hub_cpu_s(), cpu_seconds([mock.pid])
            started = time.perf_counter()
            result = await scan(
                item, population=population, today=today, sink=sink, page_size=page_size
            )
            seconds = time.perf_counter() - started
            born_from, born_to = item.window(today)
            items[code] = {
                "window": [born_from.isoformat(), born_to.isoformat()],
                "seconds": round(seconds, 2),
                "pages": result.pages,
                "rows": result.persons,
                "rows_per_s": round(result.persons / seconds),
                "candidates": result.candidates,
                "now": sink.reasons["NOW"],
                "upcoming": sink.reasons["UPCOMING"],
                "hub_cpu_s": round(_hub_cpu_s() - hub_cpu, 2),
                "mock_cpu_s": round(cpu_seconds([mock.pid]) - mock_cpu, 2),
                "hub_peak_rss_mb": _hub_peak_mb(),
                "mock_memory_mb": memory_mb([mock.pid]),
            }
            print(
                f"{code:18} {seconds:6.1f} s  {result.pages:4} pages  {result.persons:8} rows  "
                f"{result.candidates:8} candidates  hub peak {_hub_peak_mb():.0f} MB",
                flush=True,
            )
    return {"today": today.isoformat(), "items": items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scan", description=__doc__)
    parser.add_argument("--population", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--report", type=Path, help="only rewrite the Markdown report of this results JSON"
    )
    args = parser.parse_args(argv)
    if args.report:
        args.report.with_suffix(".md").write_text(report(json.loads(args.report.read_text())))
        return 0
    command = f"python -m bench.scan --population {args.population}"
    if args.page_size != 5000:
        command += f" --page-size {args.page_size}"
    results: dict[str, Any] = {
        "command": command,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            **machine(),
            "nproc": _run(["nproc"]),
            "uname_m": _run(["uname", "-m"]),
        },
        "source": source_state(),
        "population": args.population,
        "page_size": args.page_size,
        "background_load_cores": background_load(),
        "load_average_before": list(os.getloadavg()),
    }
    work = Path(tempfile.mkdtemp(prefix="ihub-scan-bench-"))
    mock: Child | None = None
    try:
        started = time.perf_counter()
        mock, url = start_mock(args.population, work)
        results["mock_start_s"] = round(time.perf_counter() - started, 2)
        results["hub_rss_mb_before"] = _hub_peak_mb()
        coroutine = scan_all(url, mock, args.page_size)
        try:
            import uvloop
        except ImportError:
            results |= asyncio.run(coroutine)
        else:
            results |= uvloop.run(coroutine)
        results["load_average_after"] = list(os.getloadavg())
        results["mock_memory_mb"] = memory_mb([mock.pid])
    finally:
        if mock is not None:
            mock.stop()
        shutil.rmtree(work, ignore_errors=True)
    items = results["items"].values()
    results["total_seconds"] = round(sum(i["seconds"] for i in items), 2)
    results["hub_peak_rss_mb"] = _hub_peak_mb()
    results["target"] = {"seconds": TARGET_S, "memory_mb": TARGET_MB}
    results["met"] = (
        results["total_seconds"] < TARGET_S
        and results["hub_peak_rss_mb"] < TARGET_MB
        and results["mock_memory_mb"]["peak_mb"] < TARGET_MB
    )
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{dt.date.today().isoformat()}-scan-{args.population}"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    text = report(results)
    stem.with_suffix(".md").write_text(text)
    print(text)
    return 0


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        f"# Proactive eligibility scan over {results['population']:,} registry persons",
        "",
        f"`{results['command']}` on {results['date']}, commit "
        f"{results['source'].get('commit', '?')} ({results['source'].get('uncommitted_files', '?')}"
        " uncommitted files).",
        "",
        f"Machine: `nproc` {m['nproc']}, `uname -m` {m['uname_m']}, {m['cpu']}, "
        f"{m['memory_mb']} MB, Python {m['python']}, kernel {m['kernel']}. Load before: "
        f"{results['background_load_cores']} cores busy with other work, load average "
        f"{', '.join(f'{v:.2f}' for v in results['load_average_before'])}.",
        "",
        f"The population mock alone in its own process (started in {results['mock_start_s']} s), "
        f"the exchange's rate limit in force; pages of {results['page_size']:,} rows, hukou in "
        f"Luohu; scan day {results['today']}; a sink that counts; each item from the start.",
        "",
        "| item | birth dates | seconds | pages | rows | rows/s | NOW | UPCOMING | hub CPU s "
        "| mock CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for code, item in results["items"].items():
        lines.append(
            f"| {code} | {item['window'][0]} … {item['window'][1]} | {item['seconds']} "
            f"| {item['pages']} | {item['rows']:,} | {item['rows_per_s']:,} | {item['now']:,} "
            f"| {item['upcoming']:,} | {item['hub_cpu_s']} | {item['mock_cpu_s']} |"
        )
    mock = results["mock_memory_mb"]
    lines += [
        "",
        f"All four: **{results['total_seconds']} s**. Peak memory: hub process "
        f"**{results['hub_peak_rss_mb']} MB** (maxrss; {results['hub_rss_mb_before']} MB before "
        f"the first scan), mock **{mock['peak_mb']} MB** (VmHWM; {mock['rss_mb']} MB at the end).",
        f"Target: under {results['target']['seconds']:.0f} s and under "
        f"{results['target']['memory_mb']:.0f} MB: **{'met' if results['met'] else 'not met'}**. "
        f"Load average after: {', '.join(f'{v:.2f}' for v in results['load_average_after'])}.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
