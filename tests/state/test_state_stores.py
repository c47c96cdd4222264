"""Behaviour every StateStore implementation shares, run on the in-memory store and on Redis."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from polyroute.exceptions import ConfigError
from polyroute.state import InMemoryStateStore, RedisStateStore, StateStore
from polyroute.testing import FakeClock

T = TypeVar("T")
StoreFactory = Callable[[FakeClock], StateStore]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def test_both_implementations_satisfy_the_protocol(make_store: StoreFactory) -> None:
    assert isinstance(make_store(FakeClock()), StateStore)


def test_counters_incr_decr_and_floor_at_zero(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)
    assert store.get("inflight:a") == 0
    assert store.incr("inflight:a") == 1
    assert store.incr("inflight:a", 2) == 3
    assert store.decr("inflight:a") == 2
    assert store.get("inflight:b") == 0  # keys are independent
    assert store.decr("inflight:a", 5) == 0  # a stray extra decrement cannot go negative
    assert store.get("inflight:a") == 0
    assert store.incr("inflight:a") == 1


def test_counters_are_exact_under_threads(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)

    def work() -> None:
        for _ in range(200):
            store.incr("k")
            store.decr("k")
            store.incr("total")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get("k") == 0
    assert store.get("total") == 800


def test_state_get_set_roundtrip_returns_copies(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)
    assert store.get_state("circuit:x") == {}
    state = {"state": "open", "opened_at": 12.5, "consecutive": 3, "window": "0101", "p": None}
    store.set_state("circuit:x", state)
    got = store.get_state("circuit:x")
    assert got == state
    got["state"] = "closed"
    assert store.get_state("circuit:x")["state"] == "open"
    store.set_state("circuit:x", {"state": "closed"})
    assert store.get_state("circuit:x") == {"state": "closed"}  # replaced, not merged


def test_update_state_is_atomic_across_threads(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)

    def bump(data: dict[str, object]) -> dict[str, object]:
        return {"n": int(data.get("n", 0)) + 1}  # type: ignore[call-overload]

    def work() -> None:
        for _ in range(50):
            store.update_state("s", bump)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.get_state("s") == {"n": 200}
    assert store.update_state("s", lambda data: None) == {"n": 200}  # None leaves it unchanged


def test_token_bucket_burst_then_refill_at_rate(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)
    taken = [_run(store.take("client", rate_per_s=2.0, burst=3)) for _ in range(3)]
    assert taken == [(True, 0.0)] * 3
    allowed, retry_after = _run(store.take("client", rate_per_s=2.0, burst=3))
    assert not allowed and retry_after == pytest.approx(0.5)
    clock.advance(0.25)
    allowed, retry_after = _run(store.take("client", rate_per_s=2.0, burst=3))
    assert not allowed and retry_after == pytest.approx(0.25)  # a refused take consumes nothing
    clock.advance(retry_after)  # waiting exactly retry_after is enough
    assert _run(store.take("client", rate_per_s=2.0, burst=3)) == (True, 0.0)
    clock.advance(100.0)  # refill stops at burst
    assert [_run(store.take("client", rate_per_s=2.0, burst=3))[0] for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]


def test_token_bucket_rate_over_a_long_run(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)
    granted = 0
    for _ in range(1000):  # 10 s of requests every 10 ms against 5/s with burst 2
        granted += _run(store.take("k", rate_per_s=5.0, burst=2))[0]
        clock.advance(0.01)
    assert granted in (51, 52)  # burst 2 + 5/s * 10 s, give or take the last refill


def test_token_bucket_multi_token_and_impossible_request(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store(clock)
    assert _run(store.take("k", rate_per_s=10.0, burst=5, n=4)) == (True, 0.0)
    allowed, retry_after = _run(store.take("k", rate_per_s=10.0, burst=5, n=4))
    assert not allowed and retry_after == pytest.approx(0.3)
    assert _run(store.take("k", rate_per_s=10.0, burst=5, n=6)) == (False, math.inf)
    assert _run(store.take("other", rate_per_s=10.0, burst=5))[0]  # buckets are per key


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate_per_s": 0, "burst": 1}, "rate_per_s"),
        ({"rate_per_s": 1, "burst": -1}, "burst"),
        ({"rate_per_s": 1, "burst": 1, "n": 0}, "n"),
    ],
)
def test_token_bucket_rejects_bad_parameters(
    make_store: StoreFactory, clock: FakeClock, kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ConfigError, match=f"{field}: expected a finite number > 0, found"):
        _run(make_store(clock).take("k", **kwargs))


def test_token_buckets_are_per_key_and_shared_by_replicas(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store(clock)
    assert _run(store.take("key-a", rate_per_s=1.0, burst=1)) == (True, 0.0)
    assert _run(store.take("key-a", rate_per_s=1.0, burst=1)) == (False, pytest.approx(1.0))
    assert _run(store.take("key-b", rate_per_s=1.0, burst=1)) == (True, 0.0)
    second_replica = make_store(clock)
    assert _run(second_replica.take("key-a", rate_per_s=1.0, burst=1))[0] is False  # shared


def test_publish_bumps_version_and_notifies(make_store: StoreFactory, clock: FakeClock) -> None:
    store = make_store(clock)
    publisher = make_store(clock)  # another replica
    received: list[tuple[int, dict[str, object]]] = []
    done = threading.Event()

    def on_change(version: int, payload: dict[str, object]) -> None:
        received.append((version, payload))
        if len(received) == 2:
            done.set()

    assert store.version("pool") == 0
    unsubscribe = store.subscribe("pool", on_change)
    assert publisher.publish("pool", {"op": "add", "model": "m1"}) == 1
    assert publisher.publish("pool", {"op": "remove", "model": "m1"}) == 2
    assert done.wait(timeout=5.0)
    assert received == [(1, {"op": "add", "model": "m1"}), (2, {"op": "remove", "model": "m1"})]
    assert store.version("pool") == 2 and store.version("other") == 0
    unsubscribe()
    unsubscribe()  # idempotent
    publisher.publish("pool", {"op": "noop"})
    assert store.version("pool") == 3
    assert len(received) == 2


def test_a_failing_subscriber_does_not_stop_the_others(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = make_store(clock)
    got = threading.Event()

    def broken(version: int, payload: dict[str, object]) -> None:
        raise RuntimeError("subscriber bug")

    store.subscribe("t", broken)
    store.subscribe("t", lambda version, payload: got.set())
    store.publish("t", {})
    assert got.wait(timeout=5.0)


def test_redis_store_without_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "redis":
            raise ImportError("No module named 'redis'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(ImportError, match=r"pip install 'polyroute\[redis\]'"):
        RedisStateStore("redis://127.0.0.1:1/0")


def test_in_memory_close_drops_subscribers() -> None:
    store = InMemoryStateStore()
    calls: list[int] = []
    store.subscribe("t", lambda version, payload: calls.append(version))
    store.close()
    store.publish("t", {})
    assert calls == []
