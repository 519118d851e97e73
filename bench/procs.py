"""Child processes in their own process groups, and what ``/proc`` says about them.

Every child is started with ``start_new_session=True`` so that it and everything it spawns
(uvicorn's workers) share one process group, which ``stop()`` ends as a whole: SIGTERM, a
bounded wait, then SIGKILL. CPU time and memory come from ``/proc/<pid>/stat`` and
``/proc/<pid>/status``; no extra dependency.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Child:
    """A started process group: its leader, its name and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def pids(self) -> list[int]:
        """The leader and all its descendants (uvicorn's supervisor and workers)."""
        return [self.pid, *descendants(self.pid)]

    def workers(self) -> list[int]:
        """The processes that serve requests: the descendants if any, else the leader."""
        below = descendants(self.pid)
        return below or [self.pid]

    def stop(self, timeout_s: float = 8.0) -> None:
        """End the whole process group: SIGTERM, wait, SIGKILL. Safe to call twice."""
        if self.stopped:
            return
        self.stopped = True
        for sig, wait_s in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 3.0)):
            try:
                os.killpg(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                if self.popen.poll() is not None and not _group_alive(self.pid):
                    return
                time.sleep(0.05)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=1)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    log_dir: Path,
    stdin: int | None = subprocess.DEVNULL,
    stdout: int | None = None,
    cwd: Path = REPO,
) -> Child:
    """Start ``argv`` in a new session (its own process group), logging to ``log_dir``, in
    ``cwd`` (this checkout: ``python -m`` finds the code of the checkout it starts in)."""
    log = log_dir / f"{name}.log"
    with log.open("ab") as sink:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=stdin,
            stdout=stdout if stdout is not None else sink,
            stderr=sink,
            start_new_session=True,
        )
    return Child(name, popen, log)


def _group_alive(pgid: int) -> bool:
    for pid in _all_pids():
        stat = _stat_fields(pid)
        if stat is not None and int(stat[2]) == pgid and stat[0] != "Z":
            return True
    return False


def _all_pids() -> Iterable[int]:
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            yield int(entry)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name: state, ppid, pgrp, …"""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children, grandchildren …)."""
    parents: dict[int, list[int]] = {}
    for other in _all_pids():
        stat = _stat_fields(other)
        if stat is not None and stat[0] != "Z":
            parents.setdefault(int(stat[1]), []).append(other)
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = parents.get(frontier.pop(), [])
        found.extend(children)
        frontier.extend(children)
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of these processes (live ones; ``/proc/<pid>/stat``)."""
    total = 0
    for pid in pids:
        stat = _stat_fields(pid)
        if stat is not None:
            # utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the name
            total += int(stat[11]) + int(stat[12])
    return total / CLOCK_TICKS


def status_kb(pid: int, key: str) -> int:
    """A ``kB`` line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``), 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pids: Iterable[int]) -> bool:
    """Reset ``VmHWM`` to the current RSS (``echo 5 > clear_refs``); False if not allowed."""
    done = True
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
        except OSError:
            done = False
    return done


def memory_mb(pids: Iterable[int]) -> dict[str, float]:
    """Summed ``VmRSS`` and ``VmHWM`` of these processes, and the largest one's ``VmHWM``
    (``peak_per_process_mb``: the targets are per worker), in MB."""
    pids = list(pids)
    peaks = [status_kb(p, "VmHWM") for p in pids]
    return {
        "rss_mb": round(sum(status_kb(p, "VmRSS") for p in pids) / 1024, 1),
        "peak_mb": round(sum(peaks) / 1024, 1),
        "peak_per_process_mb": round(max(peaks, default=0) / 1024, 1),
    }


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all cores; ``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def background_load(seconds: float = 2.0) -> float:
    """Cores kept busy by other processes while nothing of ours runs (sampled now)."""
    before = machine_busy_seconds()
    time.sleep(seconds)
    return round((machine_busy_seconds() - before) / seconds, 2)
