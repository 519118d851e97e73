"""The hub's HTTP protocol sends each answer with one write (``hub.web.protocol``).

uvicorn writes the status line and headers, then the body: two ``send`` calls an answer on
the event loop's transport. These tests drive uvicorn's own protocol, wrapped as the hub
serves it, with a transport that records what it is asked to send.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.config import Config
from uvicorn.server import ServerState

from hub.web.protocol import CoalescingTransport, HubHttpProtocol

REQUEST = b"GET /ping HTTP/1.1\r\nHost: hub\r\n\r\n"


class RecordingTransport(asyncio.Transport):
    """What a socket transport is asked to send, one entry per ``write``."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def ping(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", b"1")]})
    await send({"type": "http.response.body", "body": b"pong", "more_body": True})
    await send({"type": "http.response.body", "body": b"!"})


async def _answer(protocol_class: type, requests: bytes) -> RecordingTransport:
    config = Config(ping, lifespan="off", log_level="warning")
    config.load()
    protocol = protocol_class(config, ServerState(), {}, _loop=asyncio.get_running_loop())
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(requests)
    for _ in range(20):  # the request's task, then the flush scheduled after its step
        await asyncio.sleep(0)
    return transport


async def test_an_answer_leaves_in_one_write() -> None:
    transport = await _answer(HubHttpProtocol, REQUEST)
    assert len(transport.writes) == 1, transport.writes
    (sent,) = transport.writes
    assert sent.startswith(b"HTTP/1.1 200 OK\r\n") and b"x-a: 1\r\n" in sent
    assert sent.endswith(b"4\r\npong\r\n1\r\n!\r\n0\r\n\r\n")  # chunked: no content-length


async def test_uvicorn_alone_writes_an_answer_in_pieces() -> None:
    # what the wrapper is for: without it the same answer is three writes (three sends)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    transport = await _answer(HttpToolsProtocol, REQUEST)
    assert len(transport.writes) == 3, transport.writes
    coalesced = await _answer(HubHttpProtocol, REQUEST)
    assert b"".join(transport.writes) == coalesced.writes[0]


async def test_pipelined_requests_are_each_answered_in_order() -> None:
    transport = await _answer(HubHttpProtocol, REQUEST * 3)
    sent = b"".join(transport.writes)
    assert sent.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert sent.count(b"pong") == 3


async def test_close_sends_what_waits_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    closing = RecordingTransport()
    coalescing = CoalescingTransport(closing, loop)
    coalescing.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    coalescing.close()
    assert closing.writes == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and closing.closed
    await asyncio.sleep(0)  # the scheduled flush finds nothing more to send
    assert len(closing.writes) == 1

    aborting = RecordingTransport()
    coalescing = CoalescingTransport(aborting, loop)
    coalescing.write(b"partial")
    assert coalescing.get_write_buffer_size() == len(b"partial")
    coalescing.abort()
    await asyncio.sleep(0)
    assert aborting.writes == [] and aborting.aborted


async def test_nothing_is_written_to_a_connection_already_closing() -> None:
    transport = RecordingTransport()
    coalescing = CoalescingTransport(transport, asyncio.get_running_loop())
    coalescing.write(b"late")
    transport.closed = True  # the peer went away before the flush
    await asyncio.sleep(0)
    assert transport.writes == []
