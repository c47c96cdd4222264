"""Upstream calls over one shared ``httpx.AsyncClient`` (proxies and the environment honoured).

httpx exceptions become :mod:`polyroute.exceptions` classes here (``raise ... from exc``):
``TimeoutException`` -> :class:`UpstreamTimeout`, any other ``TransportError`` (connect, reset,
protocol, truncated body) -> :class:`UpstreamConnectionError`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.engine._upstream_wire import (
    UpstreamResponse,
    UpstreamStream,
    check_json,
    first_event,
    scrub,
    status_error,
    tag,
)
from polyroute.exceptions import UpstreamConnectionError, UpstreamError, UpstreamTimeout


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
        check_json(response.content, dep)
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
            first = await first_event(chunks, dep)
            return HttpxStream(response, chunks, first, dep, deadline)
        except UpstreamError as exc:
            await _close(response)
            raise scrub(tag(exc, dep), api_key) from None
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
