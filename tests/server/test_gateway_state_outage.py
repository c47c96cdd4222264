"""The gateway keeps answering when Redis dies or stalls, and uses it again when it is back."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH, client, running_gateway, settings_for

from polyroute.testing import FakeUpstream, RedisServer, redis_server_available

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}
CHAT = {"model": "cheap", "messages": MATH}


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    pytest.importorskip("redis", reason="the redis extra is not installed")
    if not redis_server_available():
        pytest.skip("redis-server binary not found on PATH (apt-get install redis-server)")
    with RedisServer() as srv:
        try:
            yield srv
        finally:
            srv.resume()  # never leave a stopped server behind a failed assertion


def _settings(redis_url: str, upstream: str, **security: object):  # type: ignore[no-untyped-def]
    return settings_for(
        {"cheap": [upstream]},
        server={"state_url": redis_url},
        security={"rate_limit_rps": 1000.0, "rate_limit_burst": 1000, **security},
    )


def test_redis_down_requests_still_served_and_the_fallback_is_counted(
    redis: RedisServer, tiny_router, encoder
) -> None:
    with (
        FakeUpstream(lambda r: "ok") as up,
        running_gateway(_settings(redis.url, up.base_url), tiny_router, encoder) as srv,
    ):
        http = httpx.Client(base_url=srv.url, timeout=5.0)
        assert http.post("/v1/chat/completions", headers=AUTH, json=CHAT).status_code == 200
        redis.kill()
        statuses = [
            http.post("/v1/chat/completions", headers=AUTH, json=CHAT).status_code for _ in range(5)
        ]
        assert statuses == [200] * 5  # rate limits fail open, circuits go per-process
        assert http.get("/readyz").json()["checks"]["shared_state"].startswith("degraded")
        metrics = http.get("/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}).text
        assert "polyroute_state_store_available 0.0" in metrics
        assert 'polyroute_state_fallbacks_total{kind="rate_limit_open"}' in metrics
        redis.start()
        deadline = time.monotonic() + 5.0  # bench/ measures recovery; this allows a busy machine
        while http.get("/readyz").json()["checks"]["shared_state"] != "ok":
            assert time.monotonic() < deadline, "the gateway never used Redis again"
            time.sleep(0.05)  # waiting for a real server's recovery probe
        assert client(srv).chat.completions.create(**CHAT).choices[0].message.content == "ok"


def test_rate_limits_failing_closed_answer_503_with_retry_after(
    redis: RedisServer, tiny_router, encoder
) -> None:
    with (
        FakeUpstream(lambda r: "ok") as up,
        running_gateway(
            _settings(redis.url, up.base_url, rate_limit_fallback="closed"), tiny_router, encoder
        ) as srv,
    ):
        redis.kill()
        resp = httpx.post(srv.url + "/v1/chat/completions", headers=AUTH, json=CHAT, timeout=5.0)
        assert resp.status_code == 503 and resp.headers["retry-after"] == "1"
        assert resp.json()["error"]["code"] == "rate_limiter_unavailable"


def test_stalled_redis_does_not_freeze_the_gateway(
    redis: RedisServer, tiny_router, encoder
) -> None:
    with (
        FakeUpstream(lambda r: "ok") as up,
        running_gateway(_settings(redis.url, up.base_url), tiny_router, encoder) as srv,
    ):
        http = httpx.Client(base_url=srv.url, timeout=2.0)  # a frozen gateway fails, not hangs
        assert http.post("/v1/chat/completions", headers=AUTH, json=CHAT).status_code == 200
        redis.pause()
        worst_health_s = 0.0
        for _ in range(5):
            assert http.post("/v1/chat/completions", headers=AUTH, json=CHAT).status_code == 200
            started = time.monotonic()
            assert http.get("/healthz").status_code == 200
            worst_health_s = max(worst_health_s, time.monotonic() - started)
        assert worst_health_s < 0.5
        redis.resume()
        deadline = time.monotonic() + 5.0  # bench/ measures recovery; this allows a busy machine
        while http.get("/readyz").json()["checks"]["shared_state"] != "ok":
            assert time.monotonic() < deadline, "the gateway never used Redis again"
            time.sleep(0.05)  # waiting for a real server's recovery probe
