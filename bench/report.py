"""The Markdown view of a results JSON: the tables that go into the README."""

from __future__ import annotations

from typing import Any


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _lat(phase: dict[str, Any]) -> str:
    latency = phase.get("latency_ms")
    if not latency:
        return str(phase.get("skipped", "–"))
    return f"{_ms(latency['p50'])} / {_ms(latency['p99'])}"


def _pair(summary: dict[str, Any] | None) -> str:
    if not summary or summary.get("p50") is None:
        return "–"
    return f"{_ms(summary['p50'])} / {_ms(summary['p99'])}"


def _rps(phase: dict[str, Any]) -> str:
    value = phase.get("throughput_rps")
    return "–" if value is None else f"{value:.0f}"


def _errors(phase: dict[str, Any]) -> str:
    bad = phase.get("errors", 0) + phase.get("dropped", 0)
    return f" ⚠{bad}" if bad else ""


def _context(results: dict[str, Any]) -> str:
    source = results.get("source", {})
    load = results.get("background_load_cores", 0.0)
    text = f"Commit {source.get('commit', '?')}"
    if source.get("uncommitted_files"):
        text += f" with {source['uncommitted_files']} uncommitted files"
    text += f". Other processes kept {load:g} cores busy just before the run"
    if load > 0.2:
        text += " — ⚠ the machine was not idle: latency and throughput are pessimistic"
    return text + "."


def _ratio(ratio: float | None, measured: float | None) -> str:
    if ratio is not None:
        return f"{ratio:.2f}"
    return "0 = 0" if measured == 0 else "–"


def _rate(opened: dict[str, Any]) -> str:
    rate = opened.get("rate")
    if not rate:
        return "–"
    return f"{rate:g}" + ("*" if opened.get("rate_reduced") else "")


def _overhead(view: dict[str, Any], key: str) -> str:
    found = view.get(key)
    if not found:
        return "–"
    return f"{_ms(found['p50'])} / {_ms(found['p99'])}"


def markdown(results: dict[str, Any]) -> str:
    machine = results["machine"]
    ops = results["operations"]
    lines = [
        f"# i罗湖 Hub benchmarks — {results['mode']} mode, {results['date']}",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_mb']} MB; "
        f"Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
        + ".",
        f"Mocks at {results['mock_latency']['latency_ms']:g} ± "
        f"{results['mock_latency']['jitter_ms']:g} ms per call, one process each, departments' "
        f"quotas lifted; the hub, the mocks and the load generator share the machine. "
        f"Run took {results.get('elapsed_s', 0):.0f} s. "
        f"{results.get('naive', '')}.",
        "",
        _context(results),
        "",
        "## Upstream calls per request against the minimum",
        "",
        "| operation | min steady | measured (sequential) | ratio "
        "| under load (c=64, 64 residents) | min cold | measured cold | how sent |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, op in ops.items():
        one = op.get("sessions", {}).get("1w", {})
        seq, c64 = one.get("seq", {}), one.get("c64", {})
        cold = op.get("cold", {})
        ratio = op.get("calls_ratio")
        how = op.get("persisted", "query")
        lines.append(
            f"| {name} — {op['title']} | {op['minimum']['steady']} "
            f"| {seq.get('calls_per_request', '–')} "
            f"| {_ratio(ratio, seq.get('calls_per_request'))} "
            f"| {c64.get('calls_per_request', '–')} | {op['minimum']['cold']} "
            f"| {cold.get('calls', '–')} | {how} |"
        )
    lines += [
        "",
        "## Latency (p50 / p99 ms) and throughput, 1 worker",
        "",
        "Closed loops at 1 (a fixed number of sequential requests), 16 and 64 clients; "
        "an open loop at a fixed arrival rate (300/s, or "
        "half its capacity when the hub cannot sustain 300/s here). Overhead (p50 / p99 ms) over "
        "the critical path: *per request* = each answer's latency minus the time the hub reports "
        "waiting for departments (`Server-Timing`; the verdict); *direct* = the same rate with "
        "the mocks at 0 ms; *−path* = latency at 20 ms minus the simulated critical path (both "
        "also count the mocks' own service time; see `bench/analysis.py`). Personal operations "
        "rotate across 64 residents. CPU per request is lower at 64 clients than at the open "
        "rate: batches (audit commits, loader rounds) are fuller and caches warmer.",
        "",
        "| operation | c=1 | c=16 req/s | c=16 | c=64 req/s | c=64 | open rate | open "
        "| overhead per request | of which database | overhead direct | overhead −path "
        "| hub CPU ms/req (c=64 / open) | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, op in ops.items():
        view = op.get("sessions", {}).get("1w", {})
        opened = view.get("open", {})
        cpu = view.get("c64", {}).get("hub_cpu_ms_per_request")
        cpu_open = opened.get("hub_cpu_ms_per_request")
        peak = max(
            (p.get("memory", {}).get("peak_mb", 0) for p in view.values() if isinstance(p, dict)),
            default=0,
        )
        lines.append(
            f"| {name} | {_lat(view.get('seq', {}))} | {_rps(view.get('c16', {}))} "
            f"| {_lat(view.get('c16', {}))}{_errors(view.get('c16', {}))} "
            f"| {_rps(view.get('c64', {}))} | {_lat(view.get('c64', {}))}"
            f"{_errors(view.get('c64', {}))} "
            f"| {_rate(opened)} "
            f"| {_lat(opened)}{_errors(opened)} "
            f"| {_overhead(view, 'overhead_per_request_ms')} "
            f"| {_pair(opened.get('database_wait_ms'))} "
            f"| {_overhead(view, 'overhead_direct_ms')} "
            f"| {_overhead(view, 'overhead_minus_critical_path_ms')} "
            f"| {_ms(cpu)} / {_ms(cpu_open)} | {peak:.0f} |"
        )
    lines += ["", "\\* rate reduced: the hub's closed-loop capacity here is below 300/s.", ""]
    lines += _two_workers(ops)
    lines += _herd(results)
    lines += _connections(results)
    lines += _soak(results)
    lines += _share(ops)
    lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    for target in results.get("targets", []):
        met = {True: "✅", False: "❌", None: "—"}[target["met"]]
        lines.append(f"| {target['target']} | {target['value']} | {met} |")
    lines.append("")
    return "\n".join(lines)


def _two_workers(ops: dict[str, Any]) -> list[str]:
    if not any("2w" in op.get("sessions", {}) for op in ops.values()):
        return []
    lines = [
        "## 2 workers (`--workers 2`)",
        "",
        "| operation | c=16 req/s | c=64 req/s | c=64 | open rate | open "
        "| overhead per request | overhead −path | hub CPU ms/req | peak RSS MB (sum) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, op in ops.items():
        view = op.get("sessions", {}).get("2w", {})
        opened = view.get("open", {})
        peak = max(
            (p.get("memory", {}).get("peak_mb", 0) for p in view.values() if isinstance(p, dict)),
            default=0,
        )
        lines.append(
            f"| {name} | {_rps(view.get('c16', {}))} | {_rps(view.get('c64', {}))} "
            f"| {_lat(view.get('c64', {}))}{_errors(view.get('c64', {}))} "
            f"| {_rate(opened)} "
            f"| {_lat(opened)}{_errors(opened)} "
            f"| {_overhead(view, 'overhead_per_request_ms')} "
            f"| {_overhead(view, 'overhead_minus_critical_path_ms')} "
            f"| {_ms(view.get('c64', {}).get('hub_cpu_ms_per_request'))} | {peak:.0f} |"
        )
    return [*lines, ""]


def _herd(results: dict[str, Any]) -> list[str]:
    herd = results.get("herd")
    home = results["operations"].get("home", {})
    if not herd or "cold" not in home:
        return []
    single = home["cold"]["by_endpoint"]
    steady = home["minimum"]["steady_calls"]
    endpoints = sorted(
        set(single) | set(herd["cold"]["by_endpoint"]) | set(herd["warm"]["by_endpoint"])
    )
    lines = [
        f"## {herd['requests']} concurrent identical home screens from one resident",
        "",
        "Target: one upstream call per resource — the burst on a fresh hub makes the calls of "
        "one cold request, the burst on the warm hub the calls of one steady request.",
        "",
        "| endpoint | 1 request, cold | 100 at once, cold | 1 request, steady (min) "
        "| 100 at once, warm |",
        "|---|---:|---:|---:|---:|",
    ]
    for endpoint in endpoints:
        lines.append(
            f"| `{endpoint}` | {single.get(endpoint, 0)} "
            f"| {herd['cold']['by_endpoint'].get(endpoint, 0)} | {steady.get(endpoint, 0)} "
            f"| {herd['warm']['by_endpoint'].get(endpoint, 0)} |"
        )
    lines.append(
        f"| **total** | {home['cold']['calls']} | {herd['cold']['calls']} "
        f"| {home['minimum']['steady']} | {herd['warm']['calls']} |"
    )
    background = {
        phase: sum(herd[phase].get("background_calls", {}).values()) for phase in ("cold", "warm")
    }
    if any(background.values()):
        lines += ["", f"Not counted: the catalogue copy's own sync overlapped the bursts "
                  f"({background['cold']} calls cold, {background['warm']} warm; no request "
                  f"calls the catalogue)."]  # fmt: skip
    errors = herd["cold"]["errors"] + herd["warm"]["errors"]
    if errors:
        sample = (herd["warm"]["error_samples"] or herd["cold"]["error_samples"] or [""])[0]
        lines += ["", f"{herd['cold']['errors']} (cold) and {herd['warm']['errors']} (warm) "
                  f"answers carried errors; first: `{sample[:240]}`"]  # fmt: skip
    return [*lines, ""]


def _connections(results: dict[str, Any]) -> list[str]:
    found = results.get("connections")
    if not found:
        return []
    lines = [
        "## 1,000 concurrent connections, a request in flight on each",
        "",
        "| hub | operation | requests | req/s | p50 / p99 ms | errors | peak RSS MB (sum) "
        "| processes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    samples = []
    idle = results.get("idle_memory", {})
    for label, measured in found.items():
        lines.append(
            f"| {label} | {measured.get('operation', '?')} | {measured['requests']} "
            f"| {_rps(measured)} | {_lat(measured)} | {measured['errors']} "
            f"| {measured['memory']['peak_mb']:.0f} | {measured['memory']['workers']} |"
        )
        samples += measured.get("error_samples", [])[:1]
    if idle:
        at_rest = ", ".join(f"{k} {v['rss_mb']:.0f} MB" for k, v in idle.items())
        lines += ["", f"RSS of the idle hub after start-up (sum over workers): {at_rest}."]
    if samples:
        lines += ["", f"First error: `{samples[0][:240]}`"]
    return [*lines, ""]


def _soak(results: dict[str, Any]) -> list[str]:
    soak = results.get("soak")
    if not soak:
        return []
    lines = [
        f"## Soak: mixed operations at {soak['rate']:g}/s, 1 worker",
        "",
        "| minute | requests | errors | p50 / p99 ms | RSS MB | hub CPU ms/req |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for segment in soak["segments"]:
        lines.append(
            f"| {segment['minute']} | {segment['requests']} | {segment['errors']} "
            f"| {_lat(segment)} | {segment['memory']['rss_mb']:.0f} "
            f"| {_ms(segment['hub_cpu_ms_per_request'])} |"
        )
    grown = soak["growth"]
    lines.append(f"\nGrowth from minute 2: {grown}")
    return [*lines, ""]


def _share(ops: dict[str, Any]) -> list[str]:
    lines = [
        "## Who used the 2 cores (c=64, 1 worker; 1.0 = one core busy)",
        "",
        "| operation | hub | mocks | load generator | other processes |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, op in ops.items():
        share = op.get("sessions", {}).get("1w", {}).get("c64", {}).get("cpu_share")
        if share:
            lines.append(
                f"| {name} | {share['hub']} | {share['mocks']} | {share['loadgen']} "
                f"| {share.get('other', '–')} |"
            )
    return [*lines, ""]
