"""Several uvicorn workers on one port, each accepting on its own socket (``hub.cli.sockets``).

The supervisor is uvicorn's own (``Multiprocess``: SIGINT/SIGTERM stop every worker
gracefully, SIGHUP replaces them one by one, a dead or hung worker is replaced, a worker that
fails before it starts serving stops the server), with each worker slot keeping its socket:
a replacement accepts on its predecessor's socket, and connections the kernel queued on that
socket meanwhile wait for it rather than being refused.
"""

from __future__ import annotations

import logging
import socket

from uvicorn.config import STARTUP_FAILURE, Config
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from hub.cli.sockets import PortBusy, bind

logger = logging.getLogger("uvicorn.error")


class SpreadWorkers(Multiprocess):
    """uvicorn's supervisor, where worker ``i`` accepts on ``sockets[i]`` (or all on one)."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.slots = list(sockets)
        self.host, self.port = config.host, sockets[0].getsockname()[1]

    def _slot(self, idx: int) -> list[socket.socket]:
        return [self.slots[idx]] if len(self.slots) > 1 else self.slots

    def _spawn(self, idx: int) -> Process:
        process = Process(self.config, self._slot(idx))
        process.start()
        return process

    def init_processes(self) -> None:
        for idx in range(self.processes_num):
            self.processes.append(self._spawn(idx))

    def keep_subprocess_alive(self) -> None:
        if self.should_exit.is_set():
            return
        for idx, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # hung or dead
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error(f"Child process [{process.pid}] failed to start, stopping.")
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info(f"Child process [{process.pid}] died")
            self.processes[idx] = self._spawn(idx)

    def restart_all(self) -> None:
        """SIGHUP: each worker's replacement is serving before the old one is retired."""
        for idx, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self._spawn(idx)
            timeout = self.config.timeout_worker_healthcheck
            if not new.wait_until_ready(timeout, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error(
                        f"New child process [{new.pid}] was not ready in time; "
                        f"keeping worker [{old.pid}] and aborting the restart."
                    )
                return
            old.terminate()
            old.join()
            self.processes[idx] = new

    def handle_ttin(self) -> None:
        logger.info("Received SIGTTIN, increasing the number of processes.")
        if len(self.slots) > 1:
            try:
                self.slots.append(bind(self.host, self.port, busy=str, reuse_port=True))
            except (OSError, PortBusy) as exc:
                logger.error(f"No socket for another worker ({exc}); keeping {len(self.slots)}.")
                return
        self.processes_num += 1
        self.processes.append(self._spawn(len(self.processes)))

    def handle_ttou(self) -> None:
        logger.info("Received SIGTTOU, decreasing number of processes.")
        if self.processes_num <= 1:
            logger.info("Already reached one process, cannot decrease the number of processes.")
            return
        self.processes_num -= 1
        process = self.processes.pop()
        process.terminate()
        process.join()
        if len(self.slots) > 1:
            self.slots.pop().close()  # its queued connections are reset: SIGTTOU is rare


def serve(config: Config, sockets: list[socket.socket]) -> None:
    """Run ``config.workers`` workers on ``sockets`` (``bind_workers``) until SIGINT/SIGTERM."""
    try:
        SpreadWorkers(config, sockets).run()
    finally:
        for sock in sockets:
            sock.close()
