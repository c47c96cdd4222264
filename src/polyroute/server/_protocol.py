"""Connection-level limits for uvicorn's httptools protocol: head size and read deadlines.

uvicorn bounds neither the size of a request head (``httptools`` buffers an unterminated
header line without limit) nor the time a client may take to send it: a connection that never
sends a byte, or sends one every few seconds (slowloris), is held for ever. This protocol adds:

- ``header_timeout_s``: a request head (request line + headers) must be complete this long
  after the connection opened, or after the first byte of a later request on it; else the
  connection is closed (408 if nothing was answered on it yet).
- ``body_timeout_s``: the body must be complete this long after the head.
- ``max_header_bytes``: a longer head gets 431 and the connection is closed; counted on the
  raw bytes, before ``httptools`` buffers them.

The idle time between requests stays uvicorn's ``timeout_keep_alive``, and too many connections
get uvicorn's 503 (``limit_concurrency``). :func:`uvicorn_options` maps the gateway's
``server.limits`` onto these.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from polyroute.gateway_config import ConnectionLimits


def _reply(status: bytes, message: bytes) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
        b"content-length: "
        + str(len(message)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + message
    )


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with head-size and read-deadline limits (see module doc)."""

    limits = ConnectionLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_head = True  # reading a request head (or waiting for one)
        self._head_bytes = 0
        self._answered = False

    # the deadline of the part being read -----------------------------------------------
    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._in_head and not self._answered and self._head_bytes:
            self.transport.write(_reply(b"408 Request Timeout", b"request head too slow"))
        self.transport.close()  # a body read in progress sees http.disconnect

    # asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
            if self._deadline is None:  # first byte of a request after a keep-alive pause
                self._arm(self.limits.header_timeout_s)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_header_bytes:
            self._disarm()
            if not self.transport.is_closing():
                limit = self.limits.max_header_bytes
                self.transport.write(
                    _reply(
                        b"431 Request Header Fields Too Large",
                        f"request head over {limit} bytes".encode(),
                    )
                )
                self.transport.close()

    # httptools callbacks -----------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self._in_head = False
        self._arm(self.limits.body_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head, self._head_bytes = True, 0  # the next request's head starts here
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._answered = True
        super().on_response_complete()  # arms uvicorn's keep-alive timer


def guarded_protocol(limits: ConnectionLimits) -> type[GuardedHttpToolsProtocol]:
    """A :class:`GuardedHttpToolsProtocol` subclass bound to ``limits`` (uvicorn's ``http=``)."""
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})


def uvicorn_options(limits: ConnectionLimits) -> dict[str, Any]:
    """``uvicorn.run``/``uvicorn.Config`` keyword arguments enforcing ``limits``."""
    return {
        "http": guarded_protocol(limits),
        "timeout_keep_alive": limits.keep_alive_timeout_s,
        "limit_concurrency": limits.max_concurrency,
        "backlog": limits.backlog,
    }
