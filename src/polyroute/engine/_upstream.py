"""Calls to OpenAI-compatible upstreams over one shared ``httpx.AsyncClient``.

This is the one place where httpx exceptions and upstream HTTP statuses become
:mod:`polyroute.exceptions` classes (``raise ... from exc``):

=====================================  ==============================================
httpx / status                          polyroute
=====================================  ==============================================
``TimeoutException``, 408               :class:`UpstreamTimeout` (retryable)
``TransportError`` (connect, reset,     :class:`UpstreamConnectionError` (retryable)
protocol, truncated body)
429 (``Retry-After`` read)              :class:`RateLimited` (retryable)
5xx                                     :class:`UpstreamServerError` (retryable)
other 4xx                               :class:`UpstreamClientError` (not retryable)
=====================================  ==============================================
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import httpx
from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.exceptions import (
    RateLimited,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
)

_PASS_HEADERS = ("content-type", "openai-processing-ms", "x-request-id")


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
        return _tag(exc, self._dep) if isinstance(exc, UpstreamError) else None

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]


class HttpxStream(UpstreamStream):
    """An :class:`UpstreamStream` read through httpx (its errors are translated)."""

    def __init__(
        self,
        response: httpx.Response,
        chunks: AsyncIterator[bytes],
        first: bytes,
        dep: Deployment,
        deadline: float,
    ) -> None:
        super().__init__(
            chunks, first, response.headers.get("content-type", "text/event-stream"), dep, deadline
        )
        self.response = response

    def _translate(self, exc: Exception) -> UpstreamError | None:
        if isinstance(exc, httpx.HTTPError):
            return translate_httpx(exc, self._dep)
        return super()._translate(exc)

    async def aclose(self) -> None:
        await self.response.aclose()


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


def make_upstream(kind: str = "native", *, connect_timeout_s: float = 5.0) -> Upstream:
    """``"native"`` (lean keep-alive HTTP/1.1 client, default) or ``"httpx"``."""
    if kind == "httpx":
        return HttpxUpstream(connect_timeout_s=connect_timeout_s)
    try:
        import httptools  # noqa: F401
    except ImportError:  # the native client needs httptools (uvicorn[standard])
        return HttpxUpstream(connect_timeout_s=connect_timeout_s)
    return NativeUpstream(connect_timeout_s=connect_timeout_s)


class NativeUpstream:
    """Upstream calls over :class:`~polyroute.engine._http11.Http11Client` (the fast path).

    Same interface as :class:`HttpxUpstream`: ``post``, ``open_stream``, ``aclose``.
    """

    def __init__(self, *, connect_timeout_s: float = 5.0, max_idle_per_origin: int = 256) -> None:
        from polyroute.engine._http11 import Http11Client

        self.client = Http11Client(
            connect_timeout_s=connect_timeout_s, max_idle_per_origin=max_idle_per_origin
        )
        self._origins: dict[str, Any] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def _origin(self, dep: Deployment) -> Any:
        from polyroute.engine._http11 import Origin

        origin = self._origins.get(dep.base_url)
        if origin is None:
            origin = self._origins[dep.base_url] = Origin.parse(dep.base_url)
        return origin

    @staticmethod
    def _headers(api_key: SecretStr | None) -> bytes:
        head = b"Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
        if api_key is not None:
            head += b"Authorization: Bearer " + api_key.get_secret_value().encode() + b"\r\n"
        return head

    async def _send(
        self, dep: Deployment, api_key: SecretStr | None, body: bytes, timeout_s: float
    ) -> Any:
        conn = await self.client.send(
            self._origin(dep),
            "/chat/completions",
            self._headers(api_key),
            body,
            where=dep.key,
            timeout_s=timeout_s,
        )
        if conn.status >= 300:
            content = await self.client.read_all(conn, timeout_s=timeout_s)
            raise status_error(conn.status, conn.parse.headers, content, dep)
        return conn

    async def post(
        self, dep: Deployment, api_key: SecretStr | None, body: bytes, *, timeout_s: float
    ) -> UpstreamResponse:
        """Send a non-streaming request; returns the 2xx answer or raises an UpstreamError."""
        try:
            conn = await self._send(dep, api_key, body, timeout_s)
            content = await self.client.read_all(conn, timeout_s=timeout_s)
        except UpstreamError as exc:
            raise _tag(exc, dep, api_key) from None
        return UpstreamResponse(
            conn.status, conn.parse.headers.get("content-type", "application/json"), content
        )

    async def open_stream(
        self,
        dep: Deployment,
        api_key: SecretStr | None,
        body: bytes,
        *,
        first_token_timeout_s: float,
        timeout_s: float,
    ) -> UpstreamStream:
        """Open a stream and wait for its first non-empty chunk (within the first-token limit)."""
        deadline = time.monotonic() + timeout_s
        wait = min(first_token_timeout_s, timeout_s)
        try:
            conn = await self._send(dep, api_key, body, wait)
            chunks = self.client.iter_body(conn, chunk_timeout_s=wait)
            first = b""
            try:
                while not first:
                    first = await chunks.__anext__()
            except StopAsyncIteration:
                raise UpstreamConnectionError(
                    f"{dep.key} closed the stream before any data"
                ) from None
            except BaseException:
                await chunks.aclose()
                raise
        except UpstreamError as exc:
            raise _tag(exc, dep, api_key) from None
        return UpstreamStream(
            chunks,
            first,
            conn.parse.headers.get("content-type", "text/event-stream"),
            dep,
            deadline,
        )


def _tag(exc: UpstreamError, dep: Deployment, api_key: SecretStr | None = None) -> UpstreamError:
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


class HttpxUpstream:
    """Sends chat-completion bodies to deployments.

    Parameters
    ----------
    client : httpx.AsyncClient, optional
        Shared client (keep-alive pool); one is created when omitted and closed by :meth:`aclose`.
    connect_timeout_s : float
        TCP connect (and pool wait) limit.
    max_connections : int
        Connection pool size across all upstreams.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        connect_timeout_s: float = 5.0,
        max_connections: int = 512,
    ) -> None:
        self._owns = client is None
        self.connect_timeout_s = connect_timeout_s
        self.client = client or httpx.AsyncClient(
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_connections,
                keepalive_expiry=60,
            ),
            timeout=httpx.Timeout(60.0, connect=connect_timeout_s),
            headers={"accept-encoding": "identity"},
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        if self._owns:
            await self.client.aclose()

    def _request(
        self, dep: Deployment, api_key: SecretStr | None, body: bytes, read_timeout_s: float
    ) -> httpx.Request:
        headers = {"content-type": "application/json"}
        if api_key is not None:
            headers["authorization"] = "Bearer " + api_key.get_secret_value()
        timeout = httpx.Timeout(read_timeout_s, connect=min(self.connect_timeout_s, read_timeout_s))
        return self.client.build_request(
            "POST",
            dep.base_url.rstrip("/") + "/chat/completions",
            content=body,
            headers=headers,
            timeout=timeout,
        )

    async def post(
        self, dep: Deployment, api_key: SecretStr | None, body: bytes, *, timeout_s: float
    ) -> UpstreamResponse:
        """Send a non-streaming request; returns the 2xx answer or raises an UpstreamError."""
        request = self._request(dep, api_key, body, timeout_s)
        try:
            response = await self.client.send(request)
        except httpx.HTTPError as exc:
            raise translate_httpx(exc, dep) from exc
        if response.status_code >= 300:
            raise scrub(
                status_error(response.status_code, response.headers, response.content, dep), api_key
            )
        return UpstreamResponse(
            response.status_code,
            response.headers.get("content-type", "application/json"),
            response.content,
        )

    async def open_stream(
        self,
        dep: Deployment,
        api_key: SecretStr | None,
        body: bytes,
        *,
        first_token_timeout_s: float,
        timeout_s: float,
    ) -> UpstreamStream:
        """Open a stream and wait for its first non-empty chunk (within the first-token limit)."""
        deadline = time.monotonic() + timeout_s
        request = self._request(dep, api_key, body, min(first_token_timeout_s, timeout_s))
        response: httpx.Response | None = None
        try:
            response = await self.client.send(request, stream=True)
            if response.status_code >= 300:
                content = await response.aread()
                raise scrub(
                    status_error(response.status_code, response.headers, content, dep), api_key
                )
            chunks = response.aiter_raw()
            first = b""
            while not first:
                first = await chunks.__anext__()
            return HttpxStream(response, chunks, first, dep, deadline)
        except StopAsyncIteration:
            await _close(response)
            raise UpstreamConnectionError(
                f"{dep.key} closed the stream before any data", model=dep.model, deployment=dep.name
            ) from None
        except httpx.HTTPError as exc:
            await _close(response)
            raise translate_httpx(exc, dep) from exc
        except BaseException:
            await _close(response)
            raise


async def _close(response: httpx.Response | None) -> None:
    if response is not None:
        await response.aclose()


def translate_httpx(exc: httpx.HTTPError, dep: Deployment) -> UpstreamError:
    """The polyroute error for an httpx failure talking to ``dep`` (no URL or key in it)."""
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamTimeout(
            f"{dep.key} timed out ({kind})", model=dep.model, deployment=dep.name
        )
    return UpstreamConnectionError(
        f"{dep.key} connection failed ({kind})", model=dep.model, deployment=dep.name
    )


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


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); ``None`` if absent."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _upstream_message(content: bytes) -> str:
    try:
        data = json.loads(content)
        message = data["error"]["message"] if isinstance(data.get("error"), dict) else data["error"]
        return str(message)[:300]
    except (ValueError, KeyError, TypeError, AttributeError):
        return content[:200].decode("utf-8", "replace").strip()
