"""Behaviour both pool backends share (SQLite file, PostgreSQL database)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from polyroute.exceptions import UnknownComponentError
from polyroute.gateway_config import ModelSettings
from polyroute.pool import ModelPool, parse_deployment
from polyroute.state import InMemoryStateStore

Location = Callable[[], str]


def test_seed_once_then_changes_persist_in_order(pool_location: Location) -> None:
    pool = ModelPool(pool_location())
    assert pool.seed([ModelSettings(name="b"), ModelSettings(name="a")]) is True
    pool.upsert_deployment("a", parse_deployment({"name": "d", "base_url": "http://h:1/v1"}))
    X = np.ones((2, 3), dtype=np.float32)
    pool.attach_profile("a", "hashing", X, np.array([1.0, 0.0]))
    version = pool.version()
    pool.close()
    again = ModelPool(pool_location())
    assert again.seed([ModelSettings(name="ignored")]) is False
    snap = again.snapshot()
    assert snap.model_names() == ["b", "a"] and snap.version == version
    assert snap.models["a"].deployments[0].name == "d"
    np.testing.assert_array_equal(snap.profiles["a"].X, X)
    with pytest.raises(UnknownComponentError, match="expected one of: a, b"):
        again.remove_model("zzz")
    assert again.version() == version  # a failed change leaves the version alone
    again.close()


def test_concurrent_writers_from_two_pools_lose_nothing(pool_location: Location) -> None:
    pools = [ModelPool(pool_location()), ModelPool(pool_location())]
    pools[0].seed([])

    def write(pool: ModelPool, tag: str) -> None:
        for i in range(15):
            pool.upsert_model(ModelSettings(name=f"{tag}-{i}"))

    threads = [
        threading.Thread(target=write, args=(p, t)) for p, t in zip(pools, "xy", strict=False)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = pools[1].snapshot()
    assert len(snap.models) == 30 and snap.version == 31  # seed + 30 writes, no version raced
    for p in pools:
        p.close()


def test_a_change_through_one_pool_is_announced_by_the_other(pool_location: Location) -> None:
    if not pool_location().startswith("postgresql://"):
        pytest.skip("SQLite has no cross-process notification (other processes poll)")
    writer = ModelPool(pool_location())
    writer.seed([])
    store = InMemoryStateStore()  # the other host's own, unshared state store
    arrived = threading.Event()
    store.subscribe(ModelPool.TOPIC, lambda version, payload: arrived.set())
    reader = ModelPool(pool_location(), store=store)
    time.sleep(0.2)  # the reader's LISTEN connection comes up in the background
    started = time.monotonic()
    writer.upsert_model(ModelSettings(name="new"))
    assert arrived.wait(1.0), "no notification within 1 s"
    assert time.monotonic() - started < 1.0
    assert "new" in reader.snapshot().models and reader.version() == writer.version()
    writer.close()
    reader.close()
