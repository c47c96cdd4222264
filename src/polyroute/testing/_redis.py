"""A throw-away ``redis-server`` on a free loopback port, for tests and benchmarks.

:class:`RedisServer` can also be killed, restarted on the same port, and stalled (``SIGSTOP``)
and resumed, which is how the outage tests and ``bench/bench_reliability.py`` fail Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType

from polyroute.exceptions import ConfigError


def redis_server_available() -> bool:
    """Whether the ``redis-server`` binary is on PATH (Debian package ``redis-server``)."""
    return shutil.which("redis-server") is not None


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """``redis-server`` without persistence in a temp dir, on a fixed loopback port.

    Use it as a context manager; :attr:`url` is its ``redis://`` URL. :meth:`kill` and
    :meth:`start` restart it on the same port (empty, as a crashed cache would be);
    :meth:`pause` and :meth:`resume` stall it with ``SIGSTOP``/``SIGCONT``.

    Raises ``ConfigError`` when the binary is missing or the server does not start in time.
    """

    def __init__(self, *, start_timeout_s: float = 10.0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ConfigError(
                "redis-server binary not found on PATH (apt-get install redis-server)"
            )
        self._binary = binary
        self._timeout_s = start_timeout_s
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._workdir = tempfile.TemporaryDirectory()
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server (again) on :attr:`port` and wait until it accepts connections."""
        self._proc = subprocess.Popen(
            [
                self._binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self._workdir.name,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until_accepting(self.port, self._proc, self._timeout_s)

    def kill(self) -> None:
        """``SIGKILL`` the server and reap it (its data is gone)."""
        if self._proc is not None and self._proc.poll() is None:
            self.resume()  # a stopped process must run to die cleanly for waitpid
            self._proc.kill()
            self._proc.wait(timeout=10)

    def pause(self) -> None:
        """Stall the server: connections stay open, nothing is answered."""
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self.resume()
            self._proc.terminate()
            self._proc.wait(timeout=10)
        self._workdir.cleanup()


@contextmanager
def redis_server(*, start_timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``redis-server`` without persistence in a temp dir; yield its ``redis://`` URL."""
    with RedisServer(start_timeout_s=start_timeout_s) as server:
        yield server.url


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
