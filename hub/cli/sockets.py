"""The hub's listening sockets: one for a single worker, one per worker for several.

uvicorn's ``--workers N`` hands every worker the same listening socket. Under asyncio (and
uvloop) the worker that wakes first accepts everything waiting in the backlog, so a client
that opens its keep-alive connections at once — a load balancer's pool, a benchmark — often
ends up with nearly all of them on one worker while the others idle (measured: 63 of 64
connections on one of two workers). ``bind_workers`` binds one socket per worker on the same
address with ``SO_REUSEPORT``; the kernel then hashes each new connection onto one of the
sockets, i.e. spreads connections evenly over the workers whatever their timing
(``hub.cli.workers`` runs them). Where ``SO_REUSEPORT`` does not balance (it does on Linux;
elsewhere it means something else or is missing) all workers share one socket, as uvicorn's.

Busy ports: sockets with ``SO_REUSEPORT`` of the same user bind to a port another such group
listens on, so a second ``ihub serve`` would silently share the first one's port. The port is
therefore first bound without ``SO_REUSEPORT``, which fails on any listener; only then is the
group bound.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Callable

SPREADS = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
"""Whether the kernel spreads connections over sockets sharing a port (Linux ≥ 3.9)."""


class PortBusy(Exception):
    """A port ``ihub`` must listen on is taken; the message names it and the setting to change."""


def _socket(host: str, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    return sock


def bind(
    host: str, port: int, *, busy: Callable[[int], str], reuse_port: bool = False
) -> socket.socket:
    """One socket bound (not listening) to ``host:port``; ``PortBusy(busy(port))`` if taken."""
    sock = _socket(host, reuse_port=reuse_port)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortBusy(busy(port)) from exc
        raise
    return sock


def bind_workers(
    host: str, port: int, workers: int, *, busy: Callable[[int], str]
) -> list[socket.socket]:
    """The sockets of ``workers`` workers on ``host:port``: one each where the kernel spreads
    connections over them, else one for all. Port 0 means one free port for all of them.
    Nothing listens yet: each socket joins the kernel's group when its worker listens, i.e.
    once that worker has started (its lifespan ran), so no connection waits for a worker
    that is still starting."""
    probe = bind(host, port, busy=busy)
    if not SPREADS:
        return [probe]
    port = probe.getsockname()[1]
    probe.close()
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(bind(host, port, busy=busy, reuse_port=True))
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets
