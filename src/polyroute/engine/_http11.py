"""A lean keep-alive HTTP/1.1 client for upstream calls (asyncio streams + ``httptools``).

Why not httpx on the hot path: ``bench/bench_upstream_client.py`` measures this client at a
fraction of httpx's CPU per POST (``docs/results/upstream_client.md``). This client does only
what the gateway needs — POST a JSON body, read a ``Content-Length``, chunked or
read-until-close answer, stream it chunk by chunk — and keeps connections alive per origin.
Socket and timeout failures become polyroute errors here, once.

A request is sent at most once: a failure after any byte of it was written is raised (the
caller's retry policy counts it as an attempt), never re-sent here, because the upstream may
have read and billed it. Stale keep-alive connections are weeded out *before* the write
instead: closed, readable while idle (EOF or stray bytes) or idle longer than
``keepalive_expiry_s``. Proxies are not spoken here: the caller sends proxied origins through
httpx (see :class:`~polyroute.engine._upstream.NativeUpstream`).
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from polyroute.exceptions import ConfigError, UpstreamConnectionError, UpstreamTimeout

_READ = 65536


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @classmethod
    def parse(cls, url: str) -> Origin:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(
                f"upstream base_url: expected http(s)://host[:port]/path, found {url!r}"
            )
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


class _Parse:
    """httptools callbacks collecting one response."""

    __slots__ = ("body", "done", "has_length", "headers", "headers_done", "keep_alive", "parser")

    def __init__(self) -> None:
        self.parser: Any = None
        self.keep_alive = False
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.headers_done = False
        self.done = False
        self.has_length = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        seen = self.headers.get(key)  # repeated headers join with ", " (as httpx's .get does)
        self.headers[key] = text if seen is None else f"{seen}, {text}"
        if key in ("content-length", "transfer-encoding"):
            self.has_length = True

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # llhttp resets its state after the message, so ask about keep-alive now
        self.keep_alive = bool(self.parser.should_keep_alive())

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.done = True


class Connection:
    """One TCP (or TLS) connection; reads one response at a time."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, origin: Origin, where: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.origin = origin
        self.where = where
        self.reused = False
        self.idle_since = 0.0
        self.parse = _Parse()
        self._parser: Any = None

    def start(self) -> None:
        import httptools

        self.parse = _Parse()
        self._parser = self.parse.parser = httptools.HttpResponseParser(self.parse)

    @property
    def status(self) -> int:
        return int(self._parser.get_status_code())

    @property
    def keep_alive(self) -> bool:
        return self.parse.keep_alive

    async def feed(self, timeout_s: float) -> None:
        """Read once and parse; raises on timeout, reset, EOF or malformed data."""
        import httptools

        try:
            async with asyncio.timeout(timeout_s):
                data = await self.reader.read(_READ)
        except TimeoutError:
            raise UpstreamTimeout(
                f"{self.where} timed out after {timeout_s:.3g} s waiting for data"
            ) from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"{self.where} connection failed ({type(exc).__name__})"
            ) from exc
        if not data:
            if self.parse.headers_done and not self.parse.has_length:
                self.parse.done = True  # a read-until-close body ends at EOF
                return
            raise UpstreamConnectionError(
                f"{self.where} closed the connection before the response was complete"
            )
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise UpstreamConnectionError(f"{self.where} sent a malformed HTTP response") from exc

    def close(self) -> None:
        self.writer.close()

    def idle_and_open(self) -> bool:
        """True if the peer has neither closed nor written since the last response.

        asyncio notices a peer's FIN only on its next loop iteration; a zero-timeout poll of
        the socket sees it now (the check urllib3 and httpcore make before reusing).
        """
        if self.reader.at_eof() or self.writer.is_closing():
            return False
        sock = self.writer.get_extra_info("socket")
        if sock is None:
            return True
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        return not poller.poll(0)


class Http11Client:
    """Keep-alive connection pool per origin.

    Parameters
    ----------
    connect_timeout_s : float
        TCP (and TLS) connect limit.
    max_idle_per_origin : int
        Idle connections kept per origin.
    keepalive_expiry_s : float
        An idle connection older than this is closed instead of reused: below the common
        server-side keep-alive timeouts (uvicorn 5 s, nginx 75 s), so that a server closing an
        idle connection rarely races a request written on it.
    """

    def __init__(
        self,
        *,
        connect_timeout_s: float = 5.0,
        max_idle_per_origin: int = 256,
        keepalive_expiry_s: float = 4.0,
    ) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle_per_origin
        self.keepalive_expiry_s = keepalive_expiry_s
        self._idle: dict[Origin, deque[Connection]] = {}
        self._ssl: ssl.SSLContext | None = None

    async def aclose(self) -> None:
        for pool in self._idle.values():
            while pool:
                pool.pop().close()
        self._idle.clear()

    async def _connect(self, origin: Origin, where: str) -> Connection:
        ctx = None
        if origin.scheme == "https":
            ctx = self._ssl = self._ssl or ssl.create_default_context()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                reader, writer = await asyncio.open_connection(
                    origin.host, origin.port, ssl=ctx, limit=_READ * 4
                )
        except TimeoutError:
            raise UpstreamTimeout(
                f"{where} connect timed out after {self.connect_timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise UpstreamConnectionError(
                f"{where} connection failed ({type(exc).__name__})"
            ) from exc
        return Connection(reader, writer, origin, where)

    def _acquire_idle(self, origin: Origin) -> Connection | None:
        pool = self._idle.get(origin)
        oldest = time.monotonic() - self.keepalive_expiry_s
        while pool:
            conn = pool.pop()  # the most recently used first: least likely to be closed
            if conn.idle_since > oldest and conn.idle_and_open():
                conn.reused = True
                return conn
            conn.close()
        return None

    def release(self, conn: Connection) -> None:
        """Return a connection whose response was read completely."""
        if not conn.parse.done or not conn.keep_alive or conn.writer.is_closing():
            conn.close()
            return
        pool = self._idle.setdefault(conn.origin, deque())
        if len(pool) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        pool.append(conn)

    async def send(
        self,
        origin: Origin,
        path: str,
        headers: bytes,
        body: bytes,
        *,
        where: str,
        timeout_s: float,
    ) -> Connection:
        """Send a POST and wait for the response headers; returns the connection to read."""
        head = (
            (
                f"POST {origin.base_path}{path} HTTP/1.1\r\nHost: {origin.host_header}"
                f"\r\nContent-Length: {len(body)}\r\n"
            ).encode("latin-1")
            + headers
            + b"\r\n"
        )
        conn = self._acquire_idle(origin) or await self._connect(origin, where)
        conn.start()
        try:  # from the first byte written on, a failure is the caller's (counted) attempt
            conn.writer.write(head + body)
            while not conn.parse.headers_done:
                await conn.feed(timeout_s)
        except UpstreamConnectionError as exc:
            conn.close()
            if conn.reused:
                exc.args = (f"{exc.args[0]} (on a reused keep-alive connection)", *exc.args[1:])
            raise
        except BaseException:
            conn.close()
            raise
        return conn

    async def read_all(self, conn: Connection, *, timeout_s: float) -> bytes:
        """The rest of the body; the connection goes back to the pool."""
        try:
            deadline = time.monotonic() + timeout_s
            while not conn.parse.done:
                await conn.feed(max(0.001, deadline - time.monotonic()))
        except BaseException:
            conn.close()
            raise
        body = b"".join(conn.parse.body)
        self.release(conn)
        return body

    async def iter_body(self, conn: Connection, *, chunk_timeout_s: float) -> AsyncIterator[bytes]:
        """Body chunks as they arrive; closes (or pools) the connection at the end."""
        try:
            while True:
                if conn.parse.body:
                    chunks, conn.parse.body = conn.parse.body, []
                    for chunk in chunks:
                        yield chunk
                if conn.parse.done:
                    break
                await conn.feed(chunk_timeout_s)
        except BaseException:
            conn.close()
            raise
        self.release(conn)
