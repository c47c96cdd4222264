"""Upstream hardening: a request is never re-sent behind the retry policy's back (issue 11 item 4),
a 2xx whose body is not JSON is a failed attempt (item 3), proxies are honoured, repeated
headers are kept."""

from __future__ import annotations

import asyncio

import pytest

from polyroute._types import Deployment
from polyroute.engine import HttpxUpstream, NativeUpstream
from polyroute.engine._http11 import Http11Client, Origin
from polyroute.exceptions import MalformedUpstreamResponse, UpstreamConnectionError

BODY = b'{"model":"m","messages":[{"role":"user","content":"x"}]}'
OK = b'{"choices":[]}'


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    return head + await reader.readexactly(length)


def _answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def _serve(handler: object) -> tuple[asyncio.Server, Deployment]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
    port = server.sockets[0].getsockname()[1]
    return server, Deployment(name="d", model="m", base_url=f"http://127.0.0.1:{port}/v1")


def test_a_request_read_by_the_upstream_is_never_sent_twice() -> None:
    """The upstream reads the second request on a kept-alive connection and closes without an
    answer: the client raises (the retry policy decides), and the upstream saw 2 POSTs, not 3."""
    posts: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                posts.append(await _read_request(reader))
                if len(posts) == 2:  # read (and, for a paid provider, billed), then gone
                    break
                writer.write(_answer(OK))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        writer.close()

    async def main() -> None:
        server, dep = await _serve(handler)
        up = NativeUpstream(proxies={})
        try:
            assert (await up.post(dep, None, BODY, timeout_s=5)).body == OK
            with pytest.raises(UpstreamConnectionError, match="reused keep-alive connection"):
                await up.post(dep, None, BODY, timeout_s=5)
            await asyncio.sleep(0.05)
        finally:
            await up.aclose()
            server.close()

    asyncio.run(main())
    assert len(posts) == 2


def test_an_idle_connection_closed_by_the_upstream_is_not_written_to() -> None:
    """A pooled connection whose peer has closed is replaced before the write (no failure)."""
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(_answer(OK))
        await writer.drain()
        writer.close()  # closes right after answering, as a server at its keep-alive limit

    async def main() -> list[bytes]:
        server, dep = await _serve(handler)
        up = NativeUpstream(proxies={})
        out = []
        for _ in range(3):
            out.append((await up.post(dep, None, BODY, timeout_s=5)).body)
            await asyncio.sleep(0.02)
        await up.aclose()
        server.close()
        return out

    assert asyncio.run(main()) == [OK, OK, OK]
    assert connections == 3


@pytest.mark.parametrize("client", ["native", "httpx"])
@pytest.mark.parametrize(
    "body", [b'{"choices":[{"index":0,', b"<html>502 Bad Gateway</html>", b"[1, 2]", b"\xff\xfe{"]
)
def test_a_200_that_is_not_a_json_object_is_a_failed_attempt(client: str, body: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(body))
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, dep = await _serve(handler)
        up = NativeUpstream(proxies={}) if client == "native" else HttpxUpstream()
        try:
            with pytest.raises(MalformedUpstreamResponse) as info:
                await up.post(dep, None, BODY, timeout_s=5)
            assert info.value.retryable and info.value.deployment == "d"
        finally:
            await up.aclose()
            server.close()

    asyncio.run(main())


@pytest.mark.parametrize("client", ["native", "httpx"])
@pytest.mark.parametrize(
    ("events", "ok"),
    [
        ([b'data: {"id":"c",', b'"choices":[]}\n\n', b"data: [DONE]\n\n"], True),  # split event
        ([b'data: {"id":"c","cho\n\n', b"data: [DONE]\n\n"], False),  # truncated first event
        ([b"data: <html>oops</html>\n\n"], False),
    ],
)
def test_a_stream_is_checked_up_to_its_first_complete_event(
    client: str, events: list[bytes], ok: bool
) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n"
        )
        for part in events:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.01)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server, dep = await _serve(handler)
        up = NativeUpstream(proxies={}) if client == "native" else HttpxUpstream()
        try:
            stream = await up.open_stream(dep, None, BODY, first_token_timeout_s=5, timeout_s=5)
            data = stream.first + b"".join([c async for c in stream.rest()])
            await stream.aclose()
            return data
        finally:
            await up.aclose()
            server.close()

    if ok:
        assert asyncio.run(main()) == b"".join(events)
    else:
        with pytest.raises(MalformedUpstreamResponse):
            asyncio.run(main())


def test_proxy_settings_send_the_call_through_the_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP_PROXY applies: the request goes to the proxy (absolute-form target); a host in
    NO_PROXY is called directly by the native client."""
    seen: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append((await _read_request(reader)).split(b"\r\n", 1)[0])
        writer.write(_answer(OK))
        await writer.drain()
        writer.close()

    async def main() -> None:
        proxy, proxy_dep = await _serve(handler)
        upstream, direct_dep = await _serve(handler)
        monkeypatch.setenv("HTTP_PROXY", proxy_dep.base_url.removesuffix("/v1"))
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("http_proxy", raising=False)
        remote = Deployment(name="r", model="m", base_url="http://llm.example.invalid:8000/v1")
        up = NativeUpstream()
        try:
            assert (await up.post(remote, None, BODY, timeout_s=5)).body == OK
        finally:
            await up.aclose()
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        up = NativeUpstream()
        try:
            assert (await up.post(direct_dep, None, BODY, timeout_s=5)).body == OK
            assert up._httpx is None  # the native client served it
        finally:
            await up.aclose()
            proxy.close()
            upstream.close()

    asyncio.run(main())
    assert seen == [
        b"POST http://llm.example.invalid:8000/v1/chat/completions HTTP/1.1",
        b"POST /v1/chat/completions HTTP/1.1",
    ]


def test_repeated_response_headers_are_joined_as_httpx_does() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(_answer(OK, b"x-rep: a\r\nx-rep: b\r\n"))
        await writer.drain()
        writer.close()

    async def main() -> str:
        server, dep = await _serve(handler)
        client = Http11Client()
        conn = await client.send(
            Origin.parse(dep.base_url), "/x", b"", BODY, where="d", timeout_s=5
        )
        await client.read_all(conn, timeout_s=5)
        await client.aclose()
        server.close()
        return conn.parse.headers["x-rep"]

    assert asyncio.run(main()) == "a, b"
