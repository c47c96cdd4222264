"""A throw-away ``redis-server`` on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

from polyroute.exceptions import ConfigError


def redis_server_available() -> bool:
    """Whether the ``redis-server`` binary is on PATH (Debian package ``redis-server``)."""
    return shutil.which("redis-server") is not None


@contextmanager
def redis_server(*, start_timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``redis-server`` without persistence in a temp dir; yield its ``redis://`` URL.

    Raises ``ConfigError`` when the binary is missing or the server does not start in time.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise ConfigError("redis-server binary not found on PATH (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until_accepting(port, proc, start_timeout_s)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def _wait_until_accepting(port: int, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"redis-server exited with code {proc.returncode} before accepting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling a child process's start-up, not simulating time
    raise ConfigError(f"redis-server did not accept connections on port {port} in {timeout_s} s")
