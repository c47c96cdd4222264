"""Upstream clients: HTTP status and socket failures become polyroute errors; keep-alive reuse."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from polyroute._types import Deployment
from polyroute.engine import NativeUpstream, make_upstream, status_error
from polyroute.exceptions import (
    RateLimited,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamServerError,
    UpstreamTimeout,
)

BODY = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
OK = b'{"ok":true}'


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (429, RateLimited, True),
        (500, UpstreamServerError, True),
        (503, UpstreamServerError, True),
        (408, UpstreamTimeout, True),
        (400, UpstreamClientError, False),
        (401, UpstreamClientError, False),
    ],
)
def test_statuses_map_to_error_classes(status: int, cls: type, retryable: bool) -> None:
    dep = Deployment(name="d", model="m", base_url="http://h/v1")
    exc = status_error(status, {"retry-after": "3"}, b'{"error": {"message": "nope"}}', dep)
    assert type(exc) is cls and exc.retryable is retryable and exc.status_code == status
    assert str(exc) == f"m/d answered HTTP {status}: nope"
    if status == 429:
        assert exc.retry_after_s == 3.0


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, Deployment]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, Deployment(name="d", model="m", base_url=f"http://127.0.0.1:{port}/v1")


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return await reader.readexactly(length)


def test_keep_alive_is_reused_and_a_stale_connection_is_replaced() -> None:
    connections = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n" + OK)
        await writer.drain()
        if len(connections) == 1:  # the first connection serves one more, then goes stale
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n" + OK)
            await writer.drain()
        writer.close()

    async def main() -> list[bytes]:
        server, dep = await _serve(handler)
        up = NativeUpstream()
        bodies = []
        for _ in range(3):
            bodies.append((await up.post(dep, None, BODY, timeout_s=5)).body)
            await asyncio.sleep(0.05)  # lets the server's close reach the pooled connection
        await up.aclose()
        server.close()
        return bodies

    assert asyncio.run(main()) == [OK, OK, OK]
    assert len(connections) == 2  # requests 1 and 2 shared a connection


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        (b'HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\n{"cut', UpstreamConnectionError),
        (b"NOT HTTP AT ALL\r\n\r\n", UpstreamConnectionError),
        (None, UpstreamTimeout),
    ],
)
def test_truncated_garbled_and_silent_answers_raise(reply: bytes | None, error: type) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        if reply is None:
            await asyncio.sleep(1.0)
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()

    async def main() -> None:
        server, dep = await _serve(handler)
        up = NativeUpstream()
        try:
            with pytest.raises(error) as info:
                await up.post(dep, None, BODY, timeout_s=0.2)
            assert info.value.model == "m" and info.value.deployment == "d"
        finally:
            await up.aclose()
            server.close()

    asyncio.run(main())


def test_read_until_close_body_and_refused_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n" + OK)
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server, dep = await _serve(handler)
        up = make_upstream("native")
        body = (await up.post(dep, None, BODY, timeout_s=5)).body
        server.close()
        await server.wait_closed()
        with pytest.raises(UpstreamConnectionError):
            await up.post(dep, None, BODY, timeout_s=5)
        await up.aclose()
        return body

    assert asyncio.run(main()) == OK
