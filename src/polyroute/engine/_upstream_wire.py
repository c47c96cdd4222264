"""What both upstream clients share: answer types, the status -> error mapping, answer checks.

=====================================  ==============================================
upstream answer                         polyroute
=====================================  ==============================================
timeout, 408                            :class:`UpstreamTimeout` (retryable)
connect, reset, protocol error,         :class:`UpstreamConnectionError` (retryable)
truncated body
429 (``Retry-After`` read)              :class:`RateLimited` (retryable)
5xx                                     :class:`UpstreamServerError` (retryable)
other 4xx                               :class:`UpstreamClientError` (not retryable)
2xx whose body is not a JSON object,    :class:`MalformedUpstreamResponse` (retryable)
or a stream whose first event is not
=====================================  ==============================================

Answers are checked before anyone relays them: a 200 carrying truncated JSON or an HTML page
is a failed attempt (the breaker counts it, the retry policy retries it, 502 when every attempt
failed), never a success. Streams are checked up to their first complete event; after it the
gateway has committed to relaying, and a later failure becomes an SSE error event.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.exceptions import (
    MalformedUpstreamResponse,
    RateLimited,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
)
from polyroute.resilience import parse_retry_after


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    """A successful (2xx) non-streaming answer, body passed through unchanged."""

    status: int
    content_type: str
    body: bytes


class UpstreamStream:
    """An open SSE stream whose first chunk has arrived; iterate :meth:`rest` for the others."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        first: bytes,
        content_type: str,
        dep: Deployment,
        deadline: float,
    ) -> None:
        self.first = first
        self.content_type = content_type
        self._chunks = chunks
        self._dep = dep
        self._deadline = deadline

    async def rest(self) -> AsyncIterator[bytes]:
        """The chunks after the first; upstream failures raise errors naming the deployment."""
        try:
            async for chunk in self._chunks:
                if chunk:
                    yield chunk
                if time.monotonic() > self._deadline:
                    raise UpstreamTimeout(f"stream from {self._dep.key} exceeded the total timeout")
        except Exception as exc:
            translated = self._translate(exc)
            if translated is None or translated is exc:
                raise
            raise translated from exc

    def _translate(self, exc: Exception) -> UpstreamError | None:
        """The :class:`UpstreamError` to raise for ``exc`` (``None``: let it through)."""
        return tag(exc, self._dep) if isinstance(exc, UpstreamError) else None

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]


class Upstream(Protocol):
    """What delivery needs from an HTTP client: both implementations below satisfy it."""

    async def post(
        self, dep: Deployment, api_key: SecretStr | None, body: bytes, *, timeout_s: float
    ) -> UpstreamResponse: ...

    async def open_stream(
        self,
        dep: Deployment,
        api_key: SecretStr | None,
        body: bytes,
        *,
        first_token_timeout_s: float,
        timeout_s: float,
    ) -> Any: ...

    async def aclose(self) -> None: ...


def check_json(content: bytes, dep: Deployment) -> None:
    """Raise :class:`MalformedUpstreamResponse` unless ``content`` is one JSON object."""
    try:
        data = json.loads(content)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        problem = f"not JSON ({type(exc).__name__})"
    else:
        if isinstance(data, dict):
            return
        problem = f"a JSON {type(data).__name__}, not an object"
    raise MalformedUpstreamResponse(
        f"{dep.key} answered 2xx with a body that is {problem}: {content[:80]!r}",
        model=dep.model,
        deployment=dep.name,
        status_code=502,
    )


async def first_event(chunks: AsyncIterator[bytes], dep: Deployment) -> bytes:
    """Read a stream up to its first complete SSE event and check it.

    Returns the bytes read (at least one event; more if a chunk held more). Each complete
    event's ``data`` must be a JSON object or ``[DONE]``; else
    :class:`MalformedUpstreamResponse`. A stream that ends before any byte is a connection
    error; one that ends before a blank line is returned as it is (not SSE: nothing to check).
    """
    first = b""
    try:
        while b"\n\n" not in first and b"\r\n\r\n" not in first:
            first += await chunks.__anext__()
    except StopAsyncIteration:
        if not first:
            raise UpstreamConnectionError(f"{dep.key} closed the stream before any data") from None
        return first
    text = first.replace(b"\r\n", b"\n")
    for event in text[: text.rfind(b"\n\n")].split(b"\n\n"):
        data = b"\n".join(
            line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:")
        )
        if data and data != b"[DONE]":
            check_json(data, dep)
    return first


def tag(exc: UpstreamError, dep: Deployment, api_key: SecretStr | None = None) -> UpstreamError:
    """Fill in which model/deployment failed (the socket layer does not know) and remove the
    deployment's key from the message should the upstream have echoed it."""
    exc.model = exc.model or dep.model
    exc.deployment = exc.deployment or dep.name
    return scrub(exc, api_key)


def scrub(exc: UpstreamError, api_key: SecretStr | None) -> UpstreamError:
    """Replace any occurrence of the secret in the error message by ``***``."""
    if api_key is not None and exc.args:
        secret = api_key.get_secret_value()
        if secret and secret in str(exc.args[0]):
            exc.args = (str(exc.args[0]).replace(secret, "***"), *exc.args[1:])
    return exc


def status_error(
    status: int, headers: Mapping[str, str], content: bytes, dep: Deployment
) -> UpstreamError:
    """The polyroute error for a non-2xx upstream answer."""
    detail = _upstream_message(content)
    msg = f"{dep.key} answered HTTP {status}" + (f": {detail}" if detail else "")
    kw: dict[str, Any] = {"model": dep.model, "deployment": dep.name, "status_code": status}
    if status == 429:
        return RateLimited(msg, retry_after_s=parse_retry_after(headers.get("retry-after")), **kw)
    if status == 408:
        return UpstreamTimeout(msg, **kw)
    if status >= 500:
        return UpstreamServerError(
            msg, retry_after_s=parse_retry_after(headers.get("retry-after")), **kw
        )
    return UpstreamClientError(msg, **kw)


def _upstream_message(content: bytes) -> str:
    try:
        data = json.loads(content)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data["error"]
        return str(message)[:300]
    except (ValueError, KeyError, TypeError, AttributeError):
        return content[:200].decode("utf-8", "replace").strip()
