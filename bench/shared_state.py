"""``python -m bench.shared_state``: what sharing state in Redis adds to a request's latency.

Two hubs (one worker each) on copies of one seeded var directory, against the same mocks at
0 ms: one as always (in-process state), one with ``HUB_REDIS_URL`` (a redis-server of this
run's own on a free loopback port, or ``HUB_BENCH_REDIS_URL``). Requests alternate between the
two, one at a time, so both see the same machine; after a warm-up, the median and mean of each
operation's latency are compared. The departments' quotas and the hub's shared per-app quotas
are lifted (the quota scripts still run), as in ``bench.harness``.
Writes ``bench/results/<date>-shared-state.md``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.ops import load
from bench.services import Hub, Mocks, free_port, http, hub_env, prepare_template

RESULTS = Path(__file__).resolve().parent / "results"
WARM_UP, REQUESTS = 50, 400
OPERATIONS = ("classify", "branches", "courses", "home")


def _redis(work: Path) -> tuple[str, subprocess.Popen[bytes] | None]:
    if url := os.environ.get("HUB_BENCH_REDIS_URL"):
        return url, None
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(200):
        code = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        if code.returncode == 0:
            return url, server
        time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def _token(template: Path) -> str:
    from hub.security.auth import DevKeys, issue_token
    from hub.settings import Settings

    defaults = Settings()
    keys = DevKeys.load_or_create(template / "keys")
    return issue_token(keys, "R000001", issuer=defaults.jwt_issuer, audience=defaults.jwt_audience)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="ihub-shared-bench-"))
    running: list[Hub | Mocks] = []
    redis_url, server = _redis(work)
    try:
        mocks = Mocks(work)
        running.append(mocks)
        mocks.faults(latency_ms=0, jitter_ms=0)
        mocks.lift_quotas()
        env = hub_env(mocks, {})
        template = work / "template-var"
        prepare_template(template, env, work)
        token = _token(template)
        shared = {"HUB_REDIS_URL": redis_url, "HUB_REDIS_PREFIX": f"bench-{uuid.uuid4().hex}:"}
        # like the departments' own quotas, the hub's shared per-app ones are lifted, not
        # switched off: their scripts still run on every call, so their cost is measured
        shared |= {"HUB_YOUTH_APP_CALLS_PER_SECOND": "1000000"}
        shared |= {"HUB_CCB_APP_MAX_CONCURRENCY": "100000"}
        hubs = {
            "in-process": Hub("local", workers=1, template=template, work=work, env=env),
            "Redis": Hub("redis", workers=1, template=template, work=work, env={**env, **shared}),
        }
        running.extend(hubs.values())
        for hub in hubs.values():
            hub.wait_ready()
        rows = []
        for op in load(list(OPERATIONS)):
            body = json.dumps({"query": op.document, "variables": op.variables}).encode()
            headers = {"Content-Type": "application/json"}
            if op.auth == "resident":
                headers["Authorization"] = f"Bearer {token}"
            times: dict[str, list[float]] = {name: [] for name in hubs}
            for n in range(WARM_UP + REQUESTS):
                for name, hub in hubs.items():
                    started = time.perf_counter()
                    status, answer = http("POST", f"{hub.url}/graphql", body, headers)
                    elapsed = time.perf_counter() - started
                    if status != 200 or b'"errors"' in answer:
                        raise SystemExit(f"{op.name} on {name}: {status} {answer[:200]!r}")
                    if n >= WARM_UP:
                        times[name].append(elapsed * 1000)
            local, remote = times["in-process"], times["Redis"]
            rows.append(
                (
                    op.title,
                    statistics.median(local),
                    statistics.median(remote),
                    statistics.fmean(local),
                    statistics.fmean(remote),
                )
            )
        report = _report(rows)
        print(report)
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{dt.date.today().isoformat()}-shared-state.md").write_text(report)
        return 0
    finally:
        for thing in reversed(running):
            thing.stop()
        if server is not None:
            server.terminate()
            server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def _report(rows: list[tuple[str, float, float, float, float]]) -> str:
    lines = [
        "# Latency added by shared state (HUB_REDIS_URL)",
        "",
        f"`python -m bench.shared_state` on {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}: {REQUESTS} sequential requests per operation and hub",
        f"after {WARM_UP} warm-up ones,",
        "alternating between a hub with in-process state and one on a local Redis, mocks at 0 ms,",
        "quotas lifted (the hub's shared quota scripts still run on every youth and CCB call).",
        "",
        "| operation | p50 in-process ms | p50 Redis ms | added p50 ms | mean in-process | "
        "mean Redis | added mean |",
        "|---|---|---|---|---|---|---|",
    ]
    for title, p50_local, p50_redis, mean_local, mean_redis in rows:
        lines.append(
            f"| {title} | {p50_local:.2f} | {p50_redis:.2f} | {p50_redis - p50_local:+.2f} "
            f"| {mean_local:.2f} | {mean_redis:.2f} | {mean_redis - mean_local:+.2f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
