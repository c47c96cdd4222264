"""A minimal ASGI request/response layer (the gateway's hot path avoids framework overhead)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import unquote

from polyroute.server._body import parse_json_body
from polyroute.server._disconnect import until_disconnect, wait_disconnect
from polyroute.server._errors import HTTPError, bad_request, error_body, too_large

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Headers = list[tuple[bytes, bytes]]
T = TypeVar("T")


class Request:
    """Method, path segments, lower-cased headers and the (size-limited) body of a request."""

    __slots__ = ("body", "headers", "method", "path", "query", "receive", "segments")

    def __init__(self, scope: dict[str, Any]) -> None:
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        raw = scope.get("raw_path") or self.path.encode()
        raw = raw.split(b"?", 1)[0]
        self.segments = [unquote(s.decode("latin-1")) for s in raw.split(b"/") if s]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: dict[str, str] = {
            k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
        }
        self.body = b""
        #: the ASGI ``receive`` once the body was read (then it only reports the disconnect)
        self.receive: Receive | None = None

    async def read_body(self, receive: Receive, limit: int) -> bytes:
        """Read the body; raises 413 past ``limit`` bytes (before reading it when announced)."""
        length = self.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_large(limit)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        self.body = b"".join(chunks)
        self.receive = receive
        return self.body

    async def until_disconnect(self, work: Awaitable[T]) -> T:
        """``await work``, cancelled if the client hangs up first (call after ``read_body``)."""
        if self.receive is None:
            raise RuntimeError("until_disconnect() needs read_body() first")
        return await until_disconnect(self.receive, work)

    async def wait_disconnect(self) -> None:
        """Return once the client has gone (call after ``read_body``; used while streaming)."""
        if self.receive is None:
            raise RuntimeError("wait_disconnect() needs read_body() first")
        await wait_disconnect(self.receive)

    def json(self) -> Any:
        """The body, through the one body-parsing path (:func:`parse_json_body`): its
        ``InvalidRequestError`` (malformed, not UTF-8, too deep, lone surrogate) is a 400."""
        return parse_json_body(self.body)

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise bad_request(f"expected a JSON object, found {type(data).__name__}")
        return data


def ascii_header(value: str, limit: int = 512) -> bytes:
    """A header-safe rendering of ``value`` (ASCII, no line breaks, bounded length)."""
    clean = value.replace("\r", " ").replace("\n", " ")[:limit]
    return clean.encode("ascii", "replace")


async def send_bytes(
    send: Send, status: int, body: bytes, content_type: bytes, headers: Headers | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, payload: Any, headers: Headers | None = None) -> None:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    await send_bytes(send, status, body, b"application/json", headers)


async def send_error(send: Send, err: HTTPError, headers: Headers | None = None) -> None:
    await send_bytes(
        send, err.status, error_body(err), b"application/json", [*err.headers, *(headers or [])]
    )
