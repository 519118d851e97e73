"""The closed loop driven by ``wrk`` instead of ``bench.loadgen`` (``--driver wrk``).

``wrk`` (Debian's package ``wrk``) is C with a LuaJIT hook per request: it needs a fraction
of the CPU the Python load generator needs for the same rate, which matters when the load runs
on the two cores the hub is measured on. The requests (several when residents rotate: each
with its own ``Authorization``) are formatted once into a Lua script that hands them out in
turn; ``response`` counts answers that are not 200 or carry GraphQL ``errors`` (as
``bench.loadgen`` does), and ``done`` prints one JSON line with wrk's own counts.

The result has ``bench.loadgen``'s keys (``requests``, ``errors``, ``throughput_rps``,
``latency_ms`` …) and ``loadgen_cpu_s`` from ``wait4``'s resource usage of the wrk process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SCRIPT = r"""
local requests = {}
%(requests)s
local count = #requests
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  position = math.random(count)
  failed = 0
  sample = ""
end

function request()
  position = position %% count + 1
  return requests[position]
end

function response(status, headers, body)
  if status ~= 200 or (body and string.find(body, '"errors"', 1, true)) then
    failed = failed + 1
    if sample == "" then
      local excerpt = string.gsub(string.sub(body or "", 1, 300), '[%%c"\\]', " ")
      sample = "HTTP " .. status .. ": " .. excerpt
    end
  end
end

function done(summary, latency, requests_)
  local failed_total, samples = 0, {}
  for _, thread in ipairs(threads) do
    failed_total = failed_total + thread:get("failed")
    local one = thread:get("sample")
    if one ~= "" then table.insert(samples, one) end
  end
  local e = summary.errors
  local function ms(q) return latency:percentile(q) / 1000.0 end
  io.write(string.format(
    '\n{"wrk": {"requests": %%d, "duration_us": %%d, "failed": %%d, "connect": %%d, ' ..
    '"read": %%d, "write": %%d, "status": %%d, "timeout": %%d, ' ..
    '"p50": %%.3f, "p90": %%.3f, "p99": %%.3f, "p99.9": %%.3f, "max": %%.3f, "mean": %%.3f}, ' ..
    '"samples": "%%s"}\n',
    summary.requests, summary.duration, failed_total, e.connect, e.read, e.write, e.status,
    e.timeout, ms(50), ms(90), ms(99), ms(99.9), latency.max / 1000.0,
    latency.mean / 1000.0, table.concat(samples, " | ")))
end
"""


def available() -> str | None:
    """The ``wrk`` binary, or ``None`` (``apt-get install -y wrk``)."""
    return shutil.which("wrk") or ("/usr/bin/wrk" if Path("/usr/bin/wrk").exists() else None)


def _lua(text: str) -> str:
    # a JSON string (of text without control characters but newlines) is a valid Lua string;
    # other characters stay UTF-8 bytes, byte for byte what bench.loadgen sends
    return json.dumps(text, ensure_ascii=False)


def script(requests: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for request in requests:
        headers = ", ".join(
            f"[{_lua(k)}] = {_lua(v)}" for k, v in dict(request.get("headers") or {}).items()
        )
        lines.append(
            "table.insert(requests, wrk.format("
            f"{_lua(request.get('method', 'POST'))}, {_lua(request.get('path', '/graphql'))}, "
            f"{{{headers}}}, {_lua(request.get('body') or '')}))"
        )
    return SCRIPT % {"requests": "\n".join(lines)}


def run(spec: Mapping[str, Any], *, work: Path, threads: int = 2) -> dict[str, Any]:
    """One closed loop of ``spec["concurrency"]`` connections for ``spec["duration_s"]``."""
    binary = available()
    if binary is None:
        raise RuntimeError("--driver wrk needs wrk (Debian: apt-get install -y wrk)")
    base = str(spec["url"]).rstrip("/")
    if not base.startswith("http://127.0.0.1:"):
        raise ValueError("the bench only targets loopback")
    lua = work / "wrk-requests.lua"
    lua.write_text(script(spec["requests"]), encoding="utf-8")
    concurrency = int(spec["concurrency"])
    duration = max(1, round(float(spec["duration_s"])))
    argv = [
        binary,
        f"-t{min(threads, concurrency)}",
        f"-c{concurrency}",
        f"-d{duration}s",
        f"--timeout={int(spec.get('timeout_s', 30))}s",
        "-s",
        str(lua),
        base + "/graphql",
    ]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout.read(), process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    found = [line for line in out.decode(errors="replace").splitlines() if line.startswith("{")]
    if process.returncode != 0 or not found:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-500:]}")
    report = json.loads(found[-1])
    counts = report["wrk"]
    elapsed = counts["duration_us"] / 1e6
    transport = sum(counts[k] for k in ("connect", "read", "write", "timeout"))
    errors = counts["failed"] + transport
    done = counts["requests"]
    return {
        "driver": "wrk",
        "mode": "closed",
        "concurrency": concurrency,
        "requests": done,
        "ok": done - counts["failed"],
        "errors": errors,
        "error_samples": [s for s in report["samples"].split(" | ") if s][:3]
        + ([f"transport errors: {transport}"] if transport else []),
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(done / elapsed, 1) if elapsed > 0 else None,
        "latency_ms": {
            k: round(counts[k], 3) for k in ("p50", "p90", "p99", "p99.9", "max", "mean")
        },
        "loadgen_cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
    }
