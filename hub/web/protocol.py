"""uvicorn's HTTP protocol (httptools), with each answer's writes sent in one system call.

uvicorn writes a response's status line and headers, then its body, as two
``transport.write`` calls; the event loop's transport sends each at once when its buffer is
empty, so every answer costs two ``send`` calls. On a cached ``classify`` answer those two
sends were a quarter of the hub's CPU (``python -m bench.profile classify --gil``). Here the
writes one step of the event loop makes on a connection are joined and sent together just
after that step (``loop.call_soon``): headers and body leave in one segment, a streamed
answer's chunks still leave as they come (each step's writes at the end of that step).

Everything else is uvicorn's: parsing, keep-alive, flow control, upgrades to WebSocket.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport whose writes in one event-loop step go out as one ``write``."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [bytes(data)]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what is waiting (nothing once the connection is closing)."""
        pending, self._pending = self._pending, None
        if not pending or self._transport.is_closing():
            return
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()  # a response written just before closing still goes out
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        waiting = sum(len(chunk) for chunk in self._pending or ())
        return waiting + self._transport.get_write_buffer_size()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, set_protocol …
        return getattr(self._transport, name)


class HubHttpProtocol(HttpToolsProtocol):
    """``uvicorn.Config(http=HubHttpProtocol)``: httptools, one ``send`` per answer."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but have its methods
        coalescing = CoalescingTransport(transport, self.loop)  # type: ignore[arg-type]
        super().connection_made(coalescing)  # type: ignore[arg-type]
