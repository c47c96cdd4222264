"""A lean keep-alive HTTP/1.1 client for upstream calls (asyncio streams + ``httptools``).

Why not httpx on the hot path: on this project's 2-core reference machine httpx's transport
stack (httpcore, anyio, h11) costs about 1 ms of CPU per request, half the gateway's whole
latency budget. This client does only what the gateway needs — POST a JSON body, read a
``Content-Length``, chunked or read-until-close answer, stream it chunk by chunk — and keeps
connections alive per origin. Socket and timeout failures become polyroute errors here, once.
"""

from __future__ import annotations

import asyncio
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
        self.headers[key] = value.decode("latin-1")
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
        self.parse = _Parse()
        self._parser: object | None = None

    def start(self) -> None:
        import httptools

        self.parse = _Parse()
        self._parser = self.parse.parser = httptools.HttpResponseParser(self.parse)

    @property
    def status(self) -> int:
        return int(self._parser.get_status_code())  # type: ignore[attr-defined]

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
            self._parser.feed_data(data)  # type: ignore[attr-defined]
        except httptools.HttpParserError as exc:
            raise UpstreamConnectionError(f"{self.where} sent a malformed HTTP response") from exc

    def close(self) -> None:
        self.writer.close()


class Http11Client:
    """Keep-alive connection pool per origin.

    Parameters
    ----------
    connect_timeout_s : float
        TCP (and TLS) connect limit.
    max_idle_per_origin : int
        Idle connections kept per origin.
    """

    def __init__(self, *, connect_timeout_s: float = 5.0, max_idle_per_origin: int = 256) -> None:
        self.connect_timeout_s = connect_timeout_s
        self.max_idle = max_idle_per_origin
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
        while pool:
            conn = pool.pop()
            if not conn.reader.at_eof() and not conn.writer.is_closing():
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
        for fresh in (False, True):
            conn = None if fresh else self._acquire_idle(origin)
            if conn is None:
                conn = await self._connect(origin, where)
                fresh = True
            conn.start()
            try:
                conn.writer.write(head + body)
                while not conn.parse.headers_done:
                    await conn.feed(timeout_s)
                return conn
            except UpstreamConnectionError:
                conn.close()
                if fresh:  # a reused keep-alive connection may have been closed by the peer
                    raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

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
