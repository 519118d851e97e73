"""``python -m bench.audit_writer``: what one audit-chain append costs the hub's process.

    python -m bench.audit_writer [--appends 1000] [--database-url URL]

Appends ``--appends`` records one after another (each its own transaction: the cost a lone
personal request pays) and then as many at once (the group commit: many records a
transaction), through ``SqlAuditLog`` (the dedicated connection and the driver's cursor, what
the hub runs) and through ``append_records`` on a Session off the thread pool (the path it
replaced). Reports CPU (the process's) and wall time per append, SQLite always and PostgreSQL
when ``--database-url`` (or ``HUB_BENCH_DATABASE_URL``) names one (its tables are emptied).
Writes ``bench/results/<date>-audit-writer.{md,json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from bench.harness import machine
from hub.store.audit import SqlAuditLog, append_records, verify_chain
from hub.store.db import Database, create_tables, drop_tables, make_engine
from schema.context import AuditEntry

RESULTS = Path(__file__).resolve().parent / "results"
ENTRY = AuditEntry(
    request_id="bench",
    principal_kind="resident",
    principal="R000001",
    subjects=("R000001",),
    operation_name="MyLoans",
    document_hash="0" * 64,
    departments=("library",),
    fields=("me.library.loans", "me.library.loans.book.title"),
    outcome="ok",
)


async def _measure(database: Database, appends: int) -> dict[str, Any]:
    log = SqlAuditLog(database)
    session = partial(append_records, entries=[ENTRY])
    await log.append(ENTRY)  # the connection opened, the head row made
    await database.run(session)
    figures: dict[str, Any] = {}
    for name, one in (
        ("writer, one at a time", lambda: log.append(ENTRY)),
        ("session, one at a time", lambda: database.run(session)),
    ):
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(appends):
            await one()
        figures[name] = _per(cpu, wall, appends)
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(log.append(ENTRY) for _ in range(appends)))
    figures["writer, all at once"] = _per(cpu, wall, appends)
    return figures


def _per(cpu: float, wall: float, n: int) -> dict[str, float]:
    return {
        "cpu_ms": round((time.process_time() - cpu) * 1000 / n, 3),
        "wall_ms": round((time.perf_counter() - wall) * 1000 / n, 3),
    }


def run(url: str, appends: int) -> dict[str, Any]:
    engine = make_engine(url)
    if not url.startswith("sqlite"):
        drop_tables(engine)
    create_tables(engine)
    database = Database(engine)
    try:
        figures = asyncio.run(_measure(database, appends))
        count, broken = verify_chain(engine)
        assert broken is None and count == 3 * appends + 2, (count, broken)
        return figures
    finally:
        database.close()
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_writer", description=__doc__)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("HUB_BENCH_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        urls = {"SQLite": f"sqlite:///{work}/audit.db"}
        if args.database_url:
            urls["PostgreSQL"] = args.database_url
        results = {
            "command": "python -m bench.audit_writer"
            + (" --database-url <PostgreSQL on loopback>" if args.database_url else ""),
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "load_average_before": os.getloadavg(),
            "appends": args.appends,
            "databases": {name: run(url, args.appends) for name, url in urls.items()},
            "load_average_after": os.getloadavg(),
        }
    stem = args.out / f"{dt.date.today().isoformat()}-audit-writer"
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    stem.with_suffix(".md").write_text(report(results), encoding="utf-8")
    print(report(results))
    return 0


def report(results: dict[str, Any]) -> str:
    m = results["machine"]
    lines = [
        "# The audit chain's append: dedicated writer vs Session",
        "",
        f"`{results['command']}` on {results['when']}: {m.get('cpu')}, {m.get('cores')} cores; "
        f"{results['appends']} appends per row; load average before "
        f"{[round(x, 2) for x in results['load_average_before']]}, after "
        f"{[round(x, 2) for x in results['load_average_after']]}.",
        "",
        "| database | path | CPU ms / append | wall ms / append |",
        "|---|---|---:|---:|",
    ]
    for database, figures in results["databases"].items():
        for path, f in figures.items():
            lines.append(f"| {database} | {path} | {f['cpu_ms']} | {f['wall_ms']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
