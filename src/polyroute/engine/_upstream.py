"""Calls to OpenAI-compatible upstreams: the native HTTP/1.1 client, httpx where a proxy applies.

:func:`make_upstream` builds the gateway's client. :class:`NativeUpstream` (the default) posts
over :class:`~polyroute.engine._http11.Http11Client`, which ``docs/results/upstream_client.md``
measures at a fraction of httpx's cost per POST, and hands deployments that the environment's
proxy settings send through a proxy to :class:`HttpxUpstream`. Both check answers the same way
(:mod:`polyroute.engine._upstream_wire`) before anyone relays them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.engine._upstream_httpx import HttpxStream, HttpxUpstream, translate_httpx
from polyroute.engine._upstream_wire import (
    Upstream,
    UpstreamResponse,
    UpstreamStream,
    check_json,
    first_event,
    scrub,
    status_error,
    tag,
)
from polyroute.exceptions import UpstreamError

__all__ = [
    "HttpxStream",
    "HttpxUpstream",
    "NativeUpstream",
    "Upstream",
    "UpstreamResponse",
    "UpstreamStream",
    "make_upstream",
    "proxy_applies",
    "scrub",
    "status_error",
    "translate_httpx",
]


def make_upstream(kind: str = "native", *, connect_timeout_s: float = 5.0) -> Upstream:
    """``"native"`` (lean keep-alive HTTP/1.1 client, default) or ``"httpx"``.

    The native client needs ``httptools``; without it this returns the httpx client.
    """
    if kind == "httpx":
        return HttpxUpstream(connect_timeout_s=connect_timeout_s)
    try:
        import httptools  # noqa: F401
    except ImportError:
        return HttpxUpstream(connect_timeout_s=connect_timeout_s)
    return NativeUpstream(connect_timeout_s=connect_timeout_s)


def proxy_applies(url: str, proxies: Mapping[str, str]) -> bool:
    """True if the environment's proxy settings (``proxies`` as from
    :func:`urllib.request.getproxies_environment`) send requests to ``url`` through a proxy:
    ``HTTP(S)_PROXY``/``ALL_PROXY`` set for its scheme and its host not in ``NO_PROXY``."""
    import urllib.request
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    # NO_PROXY matching as the standard library does it (suffixes, ports, "*")
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    return not bypass(parts.netloc, proxies)


class NativeUpstream:
    """Upstream calls over :class:`~polyroute.engine._http11.Http11Client` (the fast path).

    Same interface as :class:`HttpxUpstream`: ``post``, ``open_stream``, ``aclose``. The native
    client speaks no proxy protocol: a deployment whose URL the environment's
    ``HTTP(S)_PROXY``/``ALL_PROXY`` (minus ``NO_PROXY``) sends through a proxy is called over
    httpx instead, which honours those settings (read once, when this client is built).
    """

    def __init__(
        self,
        *,
        connect_timeout_s: float = 5.0,
        max_idle_per_origin: int = 256,
        proxies: Mapping[str, str] | None = None,
    ) -> None:
        from urllib.request import getproxies_environment

        from polyroute.engine._http11 import Http11Client

        self.client = Http11Client(
            connect_timeout_s=connect_timeout_s, max_idle_per_origin=max_idle_per_origin
        )
        self.connect_timeout_s = connect_timeout_s
        self.proxies = dict(getproxies_environment() if proxies is None else proxies)
        self._origins: dict[str, Any] = {}
        self._httpx: HttpxUpstream | None = None

    async def aclose(self) -> None:
        await self.client.aclose()
        if self._httpx is not None:
            await self._httpx.aclose()

    def _origin(self, dep: Deployment) -> Any:
        """The origin to call natively, or ``None`` when a proxy applies to it."""
        try:
            return self._origins[dep.base_url]
        except KeyError:
            pass
        from polyroute.engine._http11 import Origin

        origin: Origin | None = Origin.parse(dep.base_url)
        if proxy_applies(dep.base_url, self.proxies):
            origin = None
        self._origins[dep.base_url] = origin
        return origin

    def _proxied(self) -> HttpxUpstream:
        if self._httpx is None:
            self._httpx = HttpxUpstream(connect_timeout_s=self.connect_timeout_s)
        return self._httpx

    @staticmethod
    def _headers(api_key: SecretStr | None) -> bytes:
        head = b"Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
        if api_key is not None:
            head += b"Authorization: Bearer " + api_key.get_secret_value().encode() + b"\r\n"
        return head

    async def _send(
        self, origin: Any, dep: Deployment, api_key: SecretStr | None, body: bytes, timeout_s: float
    ) -> Any:
        conn = await self.client.send(
            origin,
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
        origin = self._origin(dep)
        if origin is None:
            return await self._proxied().post(dep, api_key, body, timeout_s=timeout_s)
        try:
            conn = await self._send(origin, dep, api_key, body, timeout_s)
            content = await self.client.read_all(conn, timeout_s=timeout_s)
            check_json(content, dep)
        except UpstreamError as exc:
            raise tag(exc, dep, api_key) from None
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
        """Open a stream and wait for its first complete event (within the first-token limit)."""
        origin = self._origin(dep)
        if origin is None:
            return await self._proxied().open_stream(
                dep, api_key, body, first_token_timeout_s=first_token_timeout_s, timeout_s=timeout_s
            )
        deadline = time.monotonic() + timeout_s
        wait = min(first_token_timeout_s, timeout_s)
        try:
            conn = await self._send(origin, dep, api_key, body, wait)
            chunks = self.client.iter_body(conn, chunk_timeout_s=wait)
            try:
                first = await first_event(chunks, dep)
            except BaseException:
                await chunks.aclose()  # type: ignore[attr-defined]
                raise
        except UpstreamError as exc:
            raise tag(exc, dep, api_key) from None
        return UpstreamStream(
            chunks,
            first,
            conn.parse.headers.get("content-type", "text/event-stream"),
            dep,
            deadline,
        )
