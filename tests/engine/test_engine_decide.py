"""``RoutingEngine.decide``: one pass per request, on one pool view, with per-profile caches."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import numpy as np
import pytest

from polyroute.engine import WINDOW_CHARS, RouteRequest, prompt_window
from polyroute.exceptions import EncoderSaturatedError
from polyroute.testing import FakeUpstream

MATH = "solve the equation x + 2 = 7 and compute the integral"


class CountingEncoder:
    """The hashing encoder, counting the texts it is asked to embed."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.encoder_id, self.dim = inner, "counting", inner.dim
        self.texts: list[str] = []

    def encode(self, texts: list[str], **kw: Any) -> np.ndarray:
        self.texts.extend(texts)
        return np.asarray(self.inner.encode(texts, **kw))


def test_decide_equals_route_and_carries_its_view(make_engine) -> None:
    engine = make_engine()
    decided = asyncio.run(engine.decide(RouteRequest("auto", MATH)))
    routed = engine.route(RouteRequest("auto", MATH))
    assert decided == routed and decided.model == "math-pro"
    assert decided.view is engine.view()
    assert [c.model for c in decided.candidates] == ["math-pro", "poet", "cheap"]


def test_delivery_uses_the_view_the_decision_was_made_on(make_engine) -> None:
    with FakeUpstream(lambda request: "old deployment") as old:
        engine = make_engine({"math-pro": [old.base_url]})
        decision = asyncio.run(engine.decide(RouteRequest("math-pro", MATH)))
        engine.pool.remove_deployment("math-pro", "d0")  # the pool changes mid-request
        assert not engine.view().routes["math-pro"].deployments
        body = {"model": "math-pro", "messages": [{"role": "user", "content": MATH}]}
        done = asyncio.run(engine.complete(decision, body))
    answer = json.loads(done.response.body)
    assert answer["choices"][0]["message"]["content"] == "old deployment"
    assert old.stats["requests"] == 1


def test_embedding_cache_zero_on_a_profile_turns_its_cache_off(make_engine, hashing) -> None:
    counting = CountingEncoder(hashing)
    profiles = [
        {"name": "cached", "encoder": "counting", "embedding_cache": 16},
        {"name": "uncached", "encoder": "counting", "embedding_cache": 0},
    ]
    engine = make_engine(profiles=profiles, encoders={"counting": counting})
    for _ in range(3):
        engine.route(RouteRequest("cached", MATH))
        asyncio.run(engine.decide(RouteRequest("uncached", MATH)))
    assert len(counting.texts) == 1 + 3  # one miss for "cached", every request for "uncached"
    assert engine.embedder.cache_len("cached") == 1
    assert engine.embedder.cache_len("uncached") == 0


def test_rule_short_cuts_skip_the_encoder(make_engine, hashing) -> None:
    counting = CountingEncoder(hashing)
    rules = [{"name": "code", "when": {"has_code": True}, "model": "math-pro"}]
    engine = make_engine(
        profiles=[{"name": "auto", "encoder": "counting", "rules": rules, "embedding_cache": 0}],
        encoders={"counting": counting},
    )
    decision = asyncio.run(engine.decide(RouteRequest("auto", "```python\nprint(1)\n```")))
    assert (decision.strategy, decision.rule, decision.language) == ("rule", "code", "en")
    assert counting.texts == []


def test_the_encoder_reads_a_bounded_window_of_long_prompts(make_engine, hashing) -> None:
    counting = CountingEncoder(hashing)
    engine = make_engine(
        profiles=[{"name": "auto", "encoder": "counting", "embedding_cache": 0}],
        encoders={"counting": counting},
    )
    long_prompt = "solve the integral " * 2000 + "and tell me the final answer"
    engine.route(RouteRequest("auto", long_prompt))
    (seen,) = counting.texts
    assert len(seen) <= WINDOW_CHARS and seen == prompt_window(long_prompt)
    assert seen.startswith("solve the integral") and seen.endswith("the final answer")
    assert prompt_window(MATH) == MATH  # short prompts are read whole


def test_a_saturated_encoder_sheds_load(make_engine) -> None:
    engine = make_engine(server={"max_pending_embeddings": 1})
    engine.embedder.pending = 1  # one prompt already in the worker
    with pytest.raises(EncoderSaturatedError, match="1 prompts waiting"):
        asyncio.run(engine.decide(RouteRequest("auto", "a prompt nobody asked before")))
    assert asyncio.run(engine.decide(RouteRequest("poet", MATH))).strategy == "direct"
