"""State-store fixtures: a fake clock, and a real ``redis-server`` on a random loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from polyroute.state import InMemoryStateStore, RedisStateStore, StateStore
from polyroute.testing import FakeClock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throw-away redis-server (no persistence) in a temp dir; skips when not installed."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server binary not found on PATH (apt-get install redis-server)")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = _free_port()
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
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(port, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"redis-server exited with code {proc.returncode} before accepting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling a child process's start-up, not simulating time
    pytest.fail(f"redis-server did not accept connections on port {port} in {timeout_s} s")


StoreFactory = Callable[[FakeClock], StateStore]


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> Iterator[StoreFactory]:
    """Builds stores of one kind; Redis stores of one test share a fresh key prefix."""
    created: list[StateStore] = []
    if request.param == "memory":
        memo: list[InMemoryStateStore] = []

        def factory(clock: FakeClock) -> StateStore:
            # A second call returns the same store: the in-process analogue of a second replica
            # connecting to the same Redis.
            if not memo:
                memo.append(InMemoryStateStore(clock=clock))
            return memo[0]
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"test-{uuid.uuid4().hex[:8]}:"

        def factory(clock: FakeClock) -> StateStore:
            store = RedisStateStore(url, prefix=prefix, clock=clock)
            created.append(store)
            return store

    yield factory
    for store in created:
        store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
