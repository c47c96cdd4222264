"""State-store fixtures: a fake clock, and a real ``redis-server`` on a random loopback port."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from polyroute.state import InMemoryStateStore, RedisStateStore, StateStore
from polyroute.testing import FakeClock, redis_server, redis_server_available


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A throw-away redis-server (no persistence); skips when not installed."""
    if not redis_server_available():
        pytest.skip("redis-server binary not found on PATH (apt-get install redis-server)")
    with redis_server() as url:
        yield url


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
            # generous timeout: these tests check semantics on a busy machine, not outage handling
            store = RedisStateStore(url, prefix=prefix, clock=clock, timeout_s=2.0)
            created.append(store)
            return store

    yield factory
    for store in created:
        store.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
