"""Connection-level limits (issue 11 item 11): idle and slowloris connections are closed, heads
are bounded, slow bodies time out, too many connections get 503, normal clients are served."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from gateway_helpers import CLIENT_KEY, ENV, settings_for

from polyroute.gateway_config import ConnectionLimits
from polyroute.server import create_app
from polyroute.server._protocol import uvicorn_options
from polyroute.testing import ServerThread

LIMITS = {
    "header_timeout_s": 0.5,
    "body_timeout_s": 0.5,
    "keep_alive_timeout_s": 0.5,
    "max_header_bytes": 8192,
}


@contextmanager
def gateway(**limits: Any) -> Iterator[ServerThread]:
    settings = settings_for({}, server={"limits": {**LIMITS, **limits}})
    app = create_app(settings, environ=ENV)
    with ServerThread(app, **uvicorn_options(settings.server.limits)) as srv:
        yield srv


def _connect(srv: ServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    sock.settimeout(5)
    return sock


def _read_until_closed(sock: socket.socket) -> tuple[bytes, float]:
    """Everything the server sends until it closes, and how long that took."""
    started, data = time.monotonic(), b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data, time.monotonic() - started


HEALTH = b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n"


def _read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and ``content-length`` body), however many ``recv`` it
    takes: under load the head and the body can arrive in separate segments."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed mid-head: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")[1:]
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    assert len(body) == length, "more bytes than one response"
    return head + b"\r\n\r\n" + body


def test_an_idle_connection_is_closed_after_the_header_timeout() -> None:
    with gateway() as srv, _connect(srv) as sock:
        data, waited = _read_until_closed(sock)
    assert data == b"" and waited < 2.0


def test_a_slowloris_head_is_cut_at_the_header_timeout_with_408() -> None:
    with gateway() as srv, _connect(srv) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
        started = time.monotonic()
        try:
            for _ in range(40):  # one header byte every 0.05 s: never a complete head
                sock.sendall(b"x")
                time.sleep(0.05)
        except OSError:  # closed under us: what we want
            pass
        data, _ = _read_until_closed(sock)
        assert time.monotonic() - started < 2.0
    assert data.startswith(b"HTTP/1.1 408 ")


def test_an_oversized_head_gets_431_before_it_is_buffered() -> None:
    with gateway() as srv, _connect(srv) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nx-big: ")
        with contextlib.suppress(OSError):  # unterminated: httptools would buffer it all
            sock.sendall(b"a" * 100_000)
        data, _ = _read_until_closed(sock)
    assert data.startswith(b"HTTP/1.1 431 ")


def test_a_slow_body_is_cut_at_the_body_timeout() -> None:
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {CLIENT_KEY}\r\ncontent-length: 1000\r\n\r\n"
    )
    with gateway() as srv, _connect(srv) as sock:
        sock.sendall(head.encode() + b'{"model"')
        data, waited = _read_until_closed(sock)
    assert waited < 2.0 and b" 200 " not in data


def test_keep_alive_clients_are_served_and_idle_ones_closed_after_keep_alive_timeout() -> None:
    with gateway() as srv, _connect(srv) as sock:
        for _ in range(3):
            sock.sendall(HEALTH)
            assert _read_response(sock).startswith(b"HTTP/1.1 200 ")
            time.sleep(0.1)
        data, waited = _read_until_closed(sock)
    assert data == b"" and waited < 2.0


def test_beyond_max_concurrency_new_requests_get_503() -> None:
    with gateway(max_concurrency=3, header_timeout_s=5.0) as srv:
        idle = [_connect(srv) for _ in range(3)]
        time.sleep(0.1)
        with _connect(srv) as sock:
            sock.sendall(HEALTH)
            assert sock.recv(65536).startswith(b"HTTP/1.1 503 ")
        for s in idle:
            s.close()
        time.sleep(0.1)
        with _connect(srv) as sock:
            sock.sendall(HEALTH)
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="max_header_bytes"):
        ConnectionLimits(max_header_bytes=10)
    assert ConnectionLimits().header_timeout_s == 10.0
