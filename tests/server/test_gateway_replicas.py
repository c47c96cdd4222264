"""Two gateway replicas sharing state through a real redis-server and one SQLite pool file:
circuits, rate limits and pool changes are seen by both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, MATH, client, running_gateway, settings_for

from polyroute.testing import FakeUpstream, FaultConfig, redis_server, redis_server_available


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    if not redis_server_available():
        pytest.skip("redis-server binary not found on PATH (apt-get install redis-server)")
    with redis_server() as url:
        yield url


def test_replicas_share_circuits_rate_limits_and_pool_changes(
    tmp_path: Path, redis_url: str, tiny_router, encoder
) -> None:
    with ExitStack() as stack:
        dead = stack.enter_context(FakeUpstream(faults=FaultConfig(error_rates={500: 1.0})))
        live = stack.enter_context(FakeUpstream(lambda r: "answer from live"))
        settings = settings_for(
            {"cheap": [dead.base_url, live.base_url]},
            server={"ephemeral_pool": False, "state_url": redis_url},
            circuit={"failure_threshold": 2, "reset_timeout_s": 60},
            security={"rate_limit_rps": 0.01, "rate_limit_burst": 6},
        )
        pool = tmp_path / "pool.sqlite3"
        a = stack.enter_context(running_gateway(settings, tiny_router, encoder, pool_path=pool))
        b = stack.enter_context(running_gateway(settings, tiny_router, encoder, pool_path=pool))
        ca, cb = client(a), client(b)
        for _ in range(2):  # replica A trips the dead deployment's circuit
            ca.chat.completions.create(model="cheap", messages=MATH)
        assert dead.stats["requests"] == 2
        for _ in range(2):  # replica B never calls it: the circuit state is shared
            answer = cb.chat.completions.create(model="cheap", messages=MATH)
            assert answer.choices[0].message.content == "answer from live"
        assert dead.stats["requests"] == 2
        # the token bucket (burst 6) is shared too: 4 used above, 2 left in total
        ca.chat.completions.create(model="cheap", messages=MATH)
        cb.chat.completions.create(model="cheap", messages=MATH)
        with pytest.raises(openai.RateLimitError):
            ca.chat.completions.create(model="cheap", messages=MATH)
        # a model added through replica A is served by replica B without a restart
        httpx.post(
            a.url + "/admin/models",
            headers={"authorization": f"Bearer {ADMIN_KEY}"},
            json={"name": "newcomer"},
        ).raise_for_status()
        deadline = time.monotonic() + 3
        while "newcomer" not in [m.id for m in client(b, key=ADMIN_KEY).models.list().data]:
            assert time.monotonic() < deadline, "replica B never saw the pool change"
            time.sleep(0.05)  # waiting for another replica's notification, not faking time
