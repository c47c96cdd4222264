"""Chat completions through the gateway with the official openai client: routing, streaming,
retries, fallback before the first byte and a clean error event after it."""

from __future__ import annotations

import asyncio
import time

import httpx
import openai
import pytest
from gateway_helpers import CLIENT_KEY, ENV, MATH, POEM, client, settings_for

from polyroute.server import create_app
from polyroute.testing import FakeUpstream, FaultConfig, ServerThread

AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def test_auto_routes_by_content_and_says_which_model_and_why(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    c = client(srv)
    raw = c.chat.completions.with_raw_response.create(model="auto", messages=MATH)
    assert raw.headers["x-polyroute-model"] == "math-pro"
    assert raw.headers["x-polyroute-deployment"] == "math-pro-d0"
    assert "ClusterRouter" in raw.headers["x-polyroute-reason"]
    assert raw.parse().choices[0].message.content == "answer from math-pro"
    poem = c.chat.completions.with_raw_response.create(model="polyroute/auto", messages=POEM)
    assert poem.headers["x-polyroute-model"] == "poet"
    # the upstream receives its own model name, and never the polyroute extension field
    c.chat.completions.create(
        model="auto", messages=POEM, extra_body={"polyroute": {"cost_weight": 0.1}}
    )
    sent = upstreams["poet"].requests[-1]
    assert sent["model"] == "poet" and "polyroute" not in sent


def test_cost_weight_moves_the_choice_to_the_cheap_model(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with httpx.Client(base_url=srv.url, headers=AUTH) as http:
        free = http.post("/v1/route", json={"model": "auto", "messages": MATH}).json()
        thrifty = http.post(
            "/v1/route", json={"model": "auto", "messages": MATH, "polyroute": {"cost_weight": 2.0}}
        ).json()
    assert free["model"] == "math-pro" and free["cost_weight"] == 0.0
    assert thrifty["model"] == "cheap" and thrifty["cost_weight"] == 2.0
    by_model = {c["model"]: c for c in thrifty["candidates"]}
    assert by_model["math-pro"]["predicted_quality"] > by_model["cheap"]["predicted_quality"]
    assert by_model["math-pro"]["relative_cost"] == 1.0
    assert thrifty["order"][0] == "cheap" and len(thrifty["order"]) == 3


def test_concrete_model_passes_through_streaming_faithfully(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    c = client(srv)
    with c.chat.completions.with_streaming_response.create(
        model="poet", messages=POEM, stream=True, stream_options={"include_usage": True}
    ) as resp:
        assert resp.headers["x-polyroute-model"] == "poet"
        assert resp.headers["content-type"].startswith("text/event-stream")
        chunks = list(resp.parse())
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "answer from poet"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    with httpx.Client(base_url=srv.url, headers=AUTH) as http:
        raw = http.post(
            "/v1/chat/completions", json={"model": "poet", "messages": POEM, "stream": True}
        ).text
    assert raw.rstrip().endswith("data: [DONE]")


def test_failing_model_falls_back_to_the_next_one(gateway_factory, upstreams) -> None:
    upstreams["math-pro"].set_faults(FaultConfig(error_rates={500: 1.0}))
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    raw = client(srv).chat.completions.with_raw_response.create(model="auto", messages=MATH)
    assert raw.headers["x-polyroute-model"] != "math-pro"
    assert raw.headers["x-polyroute-fallback-from"] == "math-pro"
    assert upstreams["math-pro"].stats["status_500"] == 2  # max_attempts=2, then fallback
    with httpx.Client(base_url=srv.url, headers=AUTH) as http:
        metrics = http.get("/metrics").text
    assert 'polyroute_fallbacks_total{from_model="math-pro"' in metrics
    assert 'polyroute_upstream_retries_total{model="math-pro"} 1.0' in metrics


def test_retry_honours_retry_after_then_reports_429(gateway_factory, upstreams) -> None:
    upstreams["cheap"].set_faults(FaultConfig(error_rates={429: 1.0}, retry_after_s=0.2))
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as http:
        resp = http.post("/v1/chat/completions", json={"model": "cheap", "messages": MATH})
    assert resp.status_code == 429 and resp.headers["retry-after"] == "1"
    assert resp.json()["error"]["type"] == "rate_limit_error"
    assert upstreams["cheap"].stats["status_429"] == 2
    assert resp.elapsed.total_seconds() >= 0.2  # waited the upstream's Retry-After


def test_client_errors_are_not_retried(gateway_factory, upstreams) -> None:
    upstreams["cheap"].set_faults(FaultConfig(error_rates={400: 1.0}))
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with pytest.raises(openai.BadRequestError):
        client(srv).chat.completions.create(model="cheap", messages=MATH)
    assert upstreams["cheap"].stats["requests"] == 1


def test_stream_falls_back_before_the_first_byte(gateway_factory, upstreams) -> None:
    upstreams["math-pro"].set_faults(FaultConfig(drop_connection_rate=1.0))
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with client(srv).chat.completions.with_streaming_response.create(
        model="auto", messages=MATH, stream=True
    ) as resp:
        fallback_model = resp.headers["x-polyroute-model"]
        text = "".join(ch.choices[0].delta.content or "" for ch in resp.parse() if ch.choices)
    assert fallback_model != "math-pro"
    assert text == f"answer from {fallback_model}"
    assert upstreams["math-pro"].stats["drop"] == 2


def test_stream_failure_after_first_byte_ends_with_a_clean_error_event(gateway_factory) -> None:
    stall = FaultConfig(stall_mid_stream_rate=1.0, slow_s=3.0)
    with FakeUpstream(lambda r: "a long answer that will stall", faults=stall) as up:
        srv = gateway_factory({"poet": [up.base_url]}, retry={"first_token_timeout_s": 0.3})
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as http:
            resp = http.post(
                "/v1/chat/completions", json={"model": "poet", "messages": POEM, "stream": True}
            )
        events = [e for e in resp.text.split("\n\n") if e]
        assert resp.status_code == 200 and resp.headers["x-polyroute-model"] == "poet"
        assert '"content":"a long ' in events[0]
        assert '"error"' in events[-2] and '"upstream_timeout"' in events[-2]
        assert events[-1] == "data: [DONE]"
        with pytest.raises(openai.APIError):
            stream = client(srv).chat.completions.create(model="poet", messages=POEM, stream=True)
            list(stream)
        assert up.stats["requests"] == 2  # no retry once bytes reached the client


def test_client_leaving_mid_stream_cancels_the_upstream_read(gateway_factory) -> None:
    stall = FaultConfig(stall_mid_stream_rate=1.0, slow_s=4.0)
    with FakeUpstream(lambda r: "a long answer that will stall", faults=stall) as up:
        srv = gateway_factory(
            {"poet": [up.base_url]}, retry={"first_token_timeout_s": 8.0, "timeout_s": 10.0}
        )
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=10) as http:
            with http.stream(
                "POST",
                "/v1/chat/completions",
                json={"model": "poet", "messages": POEM, "stream": True},
            ) as resp:
                assert b'"content":"a long ' in next(resp.iter_raw())
            left = time.monotonic()  # the client hangs up while the upstream stalls
            while up.stats["caller_hung_up"] == 0 and time.monotonic() - left < 3.0:
                time.sleep(0.02)
            assert up.stats["caller_hung_up"] == 1, "the gateway kept reading the upstream"
            metrics = http.get("/metrics").text
        assert 'polyroute_client_disconnects_total{model="poet"} 1.0' in metrics


def test_round_robin_profile_and_language_rule(gateway_factory, upstreams) -> None:
    profiles = [
        {
            "name": "auto",
            "encoder": "hashing",
            "rules": [
                {"name": "chinese", "when": {"language": ["zh"]}, "model": "cheap"},
                {"name": "vip", "when": {"metadata": {"tier": "gold"}}, "model": "poet"},
            ],
        },
        {"name": "rr", "strategy": "round-robin", "candidates": ["math-pro", "poet", "cheap"]},
    ]
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()}, profiles=profiles)
    c = client(srv)
    zh = c.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "请解这个方程并计算积分，谢谢你的帮助"}]
    )
    assert zh.headers["x-polyroute-model"] == "cheap"
    assert "rule 'chinese'" in zh.headers["x-polyroute-reason"]
    vip = c.chat.completions.with_raw_response.create(
        model="auto", messages=MATH, extra_headers={"x-polyroute-tag": "tier=gold"}
    )
    assert vip.headers["x-polyroute-model"] == "poet"
    seen = [
        c.chat.completions.with_raw_response.create(model="rr", messages=MATH).headers[
            "x-polyroute-model"
        ]
        for _ in range(6)
    ]
    assert seen == ["math-pro", "poet", "cheap"] * 2


def test_session_key_sticks_to_one_deployment_with_consistent_hashing(gateway_factory) -> None:
    with FakeUpstream() as u0, FakeUpstream() as u1, FakeUpstream() as u2:
        models = [
            {
                "name": "cheap",
                "balancer": "consistent-hash",
                "deployments": [
                    {"name": f"d{i}", "base_url": u.base_url} for i, u in enumerate((u0, u1, u2))
                ],
            }
        ]
        srv = gateway_factory(
            {}, models=models, profiles=[{"name": "rr", "strategy": "round-robin"}]
        )
        c = client(srv)

        def deployment(session: str) -> str:
            return c.chat.completions.with_raw_response.create(
                model="cheap", messages=MATH, extra_headers={"x-polyroute-session": session}
            ).headers["x-polyroute-deployment"]

        for session in ("alice", "bob", "carol"):
            assert len({deployment(session) for _ in range(5)}) == 1
        assert len({deployment(f"user-{i}") for i in range(30)}) == 3


class _SlowEncoder:
    """Wraps the hashing encoder with a fixed delay (an overloaded neural encoder)."""

    def __init__(self, inner, delay_s: float) -> None:
        self.inner, self.delay_s = inner, delay_s
        self.encoder_id, self.dim = "slow", inner.dim

    def encode(self, texts, **kw):
        time.sleep(self.delay_s)  # stands in for encoder CPU time in the worker thread
        return self.inner.encode(texts, **kw)


def test_auto_sheds_load_when_the_encoder_queue_is_full(upstreams, tiny_router, encoder) -> None:
    settings = settings_for(
        {m: [u.base_url] for m, u in upstreams.items()}, server={"max_pending_embeddings": 2}
    )
    app = create_app(
        settings,
        environ=ENV,
        encoders={"hashing": _SlowEncoder(encoder, 1.0)},
        routers={"auto": tiny_router},
    )

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=10) as http:
            replies = await asyncio.gather(
                *(
                    http.post("/v1/route", json={"model": "auto", "messages": MATH})
                    for _ in range(6)
                )
            )
            concrete = await http.post(
                "/v1/chat/completions", json={"model": "cheap", "messages": MATH}
            )
        assert concrete.status_code == 200  # concrete models never wait for the encoder
        return sorted(r.status_code for r in replies)

    with ServerThread(app) as srv:
        statuses = asyncio.run(burst(srv.url))
    assert statuses == [200, 200, 503, 503, 503, 503]


def test_start_up_objects_are_frozen_out_of_garbage_collection(gateway_factory, upstreams) -> None:
    import gc

    gc.unfreeze()
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    frozen = gc.get_freeze_count()
    assert frozen > 10_000  # modules, settings, routers: no full collection walks them again
    with httpx.Client(base_url=srv.url, headers=AUTH) as http:
        reply = http.post("/v1/route", json={"model": "auto", "messages": MATH})
    assert reply.status_code == 200 and reply.json()["cluster"] is not None
