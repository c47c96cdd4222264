"""RedisStateStore degrades instead of failing: Redis killed, stalled (SIGSTOP) and restarted."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest

from polyroute.state import RedisStateStore
from polyroute.testing import RedisServer, redis_server_available


@pytest.fixture
def server() -> Iterator[RedisServer]:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    if not redis_server_available():
        pytest.skip("redis-server binary not found on PATH (apt-get install redis-server)")
    with RedisServer() as srv:
        yield srv


def _wait_for(predicate, timeout_s: float = 3.0) -> float:  # type: ignore[no-untyped-def]
    """Seconds until ``predicate()`` held (real time: a real server recovering)."""
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < timeout_s, "condition not reached in time"
        time.sleep(0.01)
    return time.monotonic() - start


def _up(store: RedisStateStore) -> None:
    """Wait until the store uses Redis (a busy test machine may time out a first connect)."""
    _wait_for(lambda: store.get("warm-up") == 0 and store.health().available, 5.0)


def test_killed_redis_falls_back_to_process_state_and_recovers(server: RedisServer) -> None:
    store = RedisStateStore(server.url, timeout_s=1.0, retry_interval_s=0.1)
    try:
        _up(store)
        assert store.incr("a") == 1
        server.kill()
        assert store.incr("a") == 1  # per-process counter: no exception, no wait
        store.set_state("circuit:x", {"state": "open"})
        assert store.get_state("circuit:x") == {"state": "open"}
        assert asyncio.run(store.take("k", rate_per_s=1.0, burst=1)) == (True, 0.0)  # fails open
        assert asyncio.run(store.take("k", rate_per_s=1.0, burst=1)) == (True, 0.0)
        health = store.health()
        assert not health.available and "unavailable" in health.detail
        assert health.fallbacks["rate_limit_open"] == 2 and health.fallbacks["state"] >= 2
        server.start()
        _up(store)  # the probe (every 0.1 s) finds Redis again; bench/ measures how fast
        assert store.incr("a") == 1  # Redis again (restarted empty)
    finally:
        store.close()


def test_rate_limits_can_fail_closed(server: RedisServer) -> None:
    store = RedisStateStore(server.url, timeout_s=1.0, rate_limit_fallback="closed")
    try:
        server.kill()
        allowed, retry_after = asyncio.run(store.take("k", rate_per_s=1.0, burst=5))
        assert not allowed and retry_after > 0
        assert store.health().fallbacks == {"rate_limit_closed": 1}
    finally:
        store.close()


def test_stalled_redis_blocks_a_caller_at_most_one_timeout(server: RedisServer) -> None:
    timeout_s = 0.3
    store = RedisStateStore(server.url, timeout_s=timeout_s, retry_interval_s=0.1)
    try:
        _up(store)
        store.incr("a")
        server.pause()
        waits = []
        for _ in range(20):
            started = time.monotonic()
            store.get_state("circuit:x")
            waits.append(time.monotonic() - started)
        assert waits[0] < 3 * timeout_s  # the call that finds the stall waits about one timeout
        later = sorted(waits[1:])
        assert later[len(later) // 2] < 0.01 and later[-1] < timeout_s  # then nobody waits
        started = time.monotonic()
        asyncio.run(store.take("k", rate_per_s=1.0, burst=1))
        assert time.monotonic() - started < timeout_s
        server.resume()
        _up(store)
        assert store.incr("a") == 2  # the state from before the stall is still there
    finally:
        store.close()


def test_pubsub_listener_resubscribes_after_a_redis_restart(server: RedisServer) -> None:
    listener = RedisStateStore(server.url, prefix="t:", timeout_s=1.0)
    publisher = RedisStateStore(server.url, prefix="t:", timeout_s=1.0)
    got: list[tuple[int, dict[str, object]]] = []
    arrived = threading.Event()

    def on_change(version: int, payload: dict[str, object]) -> None:
        got.append((version, payload))
        arrived.set()

    try:
        listener.subscribe("pool", on_change)
        publisher.publish("pool", {"version": 1})
        assert arrived.wait(2.0) and got[-1] == (1, {"version": 1})
        server.kill()
        server.start()
        time.sleep(1.5)  # the listener's back-off is at most 1 s: give it time to come back
        arrived.clear()
        publisher.publish("pool", {"version": 2})
        assert arrived.wait(3.0), "the listener never resubscribed after the restart"
        assert got[-1][1] in ({"version": 2}, {})
    finally:
        listener.close()
        publisher.close()
