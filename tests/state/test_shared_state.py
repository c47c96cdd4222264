"""Replicas sharing one store share circuits and in-flight counts (in-memory and Redis)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from polyroute._types import Deployment
from polyroute.balancing import LeastConnectionsBalancer
from polyroute.resilience import CircuitBreakerRegistry
from polyroute.state import StateStore
from polyroute.testing import FakeClock

StoreFactory = Callable[[FakeClock], StateStore]


def replicas(make_store: StoreFactory, clock: FakeClock) -> list[CircuitBreakerRegistry]:
    return [
        CircuitBreakerRegistry(
            make_store(clock),
            failure_threshold=3,
            failure_rate=None,
            reset_timeout_s=10.0,
            clock=clock,
        )
        for _ in range(2)
    ]


def test_circuit_opened_by_one_replica_is_open_for_the_other(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    one, two = replicas(make_store, clock)
    for _ in range(3):
        one.get("m/dead").record_failure()
    assert two.get("m/dead").state == "open" and not two.get("m/dead").allow()
    assert two.get("m/alive").allow()
    clock.advance(10.0)
    probes = [one.get("m/dead").allow(), two.get("m/dead").allow()]
    assert probes == [True, False]  # one probe across all replicas
    one.get("m/dead").record_success()
    assert two.get("m/dead").state == "closed"


def test_single_probe_under_concurrent_replicas(make_store: StoreFactory, clock: FakeClock) -> None:
    registries = replicas(make_store, clock) * 4
    for _ in range(3):
        registries[0].get("m/d").record_failure()
    clock.advance(10.0)
    barrier, results = threading.Barrier(len(registries)), []

    def contend(registry: CircuitBreakerRegistry) -> None:
        barrier.wait()
        results.append(registry.get("m/d").allow())

    threads = [threading.Thread(target=contend, args=(r,)) for r in registries]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * (len(registries) - 1) + [True]


def test_least_connections_across_replicas(make_store: StoreFactory, clock: FakeClock) -> None:
    a = Deployment("a", "m", "http://127.0.0.1:1/v1", max_concurrency=1)
    b = Deployment("b", "m", "http://127.0.0.1:2/v1", max_concurrency=1)
    one = LeastConnectionsBalancer(store=make_store(clock), rng=random.Random(0))
    two = LeastConnectionsBalancer(store=make_store(clock), rng=random.Random(1))
    first = one.choose([a, b])
    one.on_start(first)
    second = two.choose([a, b])
    assert second != first  # the other replica sees the in-flight request
    two.on_start(second)
    one.on_success(first, 0.1)
    assert two.choose([a, b]) == first
