"""``ihub serve`` as a newcomer runs it: a real process on free ports, stopped with Ctrl-C."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
MOCK_COUNT = 13  # the mocks listen on HUB_MOCKS_BASE_PORT + 1 … + 13


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_floor() -> int:
    """The lowest port the kernel hands out to outgoing connections (32768 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports, away from the dev ports and
    below the kernel's ephemeral range: a port in it can be taken by any outgoing connection
    (the suite makes thousands) between this check and the server's bind."""
    ceiling = max(_ephemeral_floor(), 20_000 + 4 * count + 1)
    for _ in range(200):
        first = random.randrange(20_000, ceiling - count)
        if all(_free(first + i) for i in range(count)):
            return first
    raise AssertionError("no block of free ports")


class Serve:
    """``python -m hub.cli serve`` with ``HUB_PORT`` and ``HUB_MOCKS_BASE_PORT`` given."""

    def __init__(
        self,
        var: Path,
        *,
        port: int,
        mocks_base_port: int,
        args: tuple[str, ...] = (),
        **env: str,
    ) -> None:
        self.port = port
        self.mocks_base_port = mocks_base_port
        self.url = f"http://127.0.0.1:{port}"
        environment = {
            **os.environ,
            "HUB_VAR_DIR": str(var),
            "HUB_PORT": str(port),
            "HUB_MOCKS_BASE_PORT": str(mocks_base_port),
            "HUB_GRAPHIQL": "false",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", *args],
            cwd=REPO,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def mock_url(self, offset: int) -> str:
        return f"http://127.0.0.1:{self.mocks_base_port + offset}"

    def wait_ready(self) -> None:
        """Poll ``/healthz`` until the hub answers (or the process ended: then fail with its output)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise AssertionError(f"serve ended early ({self.process.returncode}): {out}{err}")
            try:
                httpx.get(f"{self.url}/healthz", timeout=5).raise_for_status()
                return
            except httpx.TransportError:
                time.sleep(0.1)  # another process: poll its /healthz until the deadline
        raise AssertionError("serve never answered /healthz")

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """Wait for the process to end by itself: exit code, stdout, stderr."""
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out, err

    def stop(self) -> tuple[int, str, str]:
        """Ctrl-C, then wait for a clean end."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.finish()
