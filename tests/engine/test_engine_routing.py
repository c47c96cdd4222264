"""RoutingEngine decisions: profiles, the cost knob, rules, round-robin, live pool changes."""

from __future__ import annotations

import pytest

from polyroute.engine import RouteRequest, complexity, detect_language, has_code
from polyroute.exceptions import InvalidRequestError, NoEligibleModelError, UnknownComponentError
from polyroute.pool import parse_model

MATH = "solve the equation x + 2 = 7 and compute the integral"
POEM = "write a poem about the moon number 4"


def test_learned_profile_trades_quality_against_relative_cost(make_engine) -> None:
    engine = make_engine()
    best = engine.route(RouteRequest("auto", MATH))
    assert best.model == "math-pro" and best.strategy == "learned"
    assert best.order == ("math-pro", "cheap", "poet")  # fallbacks ranked by utility
    cheap = engine.route(RouteRequest("auto", MATH, cost_weight=2.0))
    assert cheap.model == "cheap" and cheap.cost_weight == 2.0
    rel = {c.model: c.relative_cost for c in cheap.candidates}
    assert rel == {"math-pro": 1.0, "poet": 0.5, "cheap": 0.01}
    assert engine.route(RouteRequest("polyroute/auto", POEM)).model == "poet"


def test_cost_weight_outside_range_and_unknown_names_are_rejected(make_engine) -> None:
    engine = make_engine()
    with pytest.raises(InvalidRequestError, match=r"expected a number in \[0, 2\].*found 2.5"):
        engine.route(RouteRequest("auto", MATH, cost_weight=2.5))
    with pytest.raises(InvalidRequestError):
        engine.route(RouteRequest("auto", MATH, cost_weight=float("nan")))
    with pytest.raises(UnknownComponentError, match="expected one of: auto, cheap"):
        engine.route(RouteRequest("gpt-9", MATH))
    direct = engine.route(RouteRequest("poet", MATH, cost_weight=99.0))  # ignored for models
    assert (direct.model, direct.strategy, direct.order) == ("poet", "direct", ("poet",))


def test_candidates_with_deployments_win_over_route_only_models(make_engine) -> None:
    engine = make_engine({"poet": ["http://127.0.0.1:9/v1"]})
    decision = engine.route(RouteRequest("auto", MATH))
    assert decision.model == "poet" and [c.model for c in decision.candidates] == ["poet"]


def test_rules_run_before_the_router(make_engine) -> None:
    rules = [
        {"name": "code", "when": {"has_code": True}, "model": "math-pro"},
        {
            "name": "russian",
            "when": {"language": ["ru"]},
            "candidates": ["cheap", "poet"],
            "cost_weight": 2.0,
        },
        {"name": "topic", "when": {"pattern": r"\bhaiku\b"}, "model": "poet"},
    ]
    engine = make_engine(
        profiles=[
            {"name": "auto", "encoder": "hashing", "rules": rules, "cost_weight_range": [0.0, 2.0]}
        ]
    )
    code = engine.route(RouteRequest("auto", "```python\ndef f(x):\n    return x\n```"))
    assert (code.model, code.rule, code.strategy) == ("math-pro", "code", "rule")
    ru = engine.route(RouteRequest("auto", "Напиши мне, пожалуйста, стихотворение о луне"))
    assert ru.model == "cheap" and ru.rule == "russian" and ru.language == "ru"
    assert {c.model for c in ru.candidates} == {"cheap", "poet"}
    assert engine.route(RouteRequest("auto", "a HAIKU please")).model == "poet"


def test_round_robin_profile_rotates(make_engine) -> None:
    engine = make_engine(profiles=[{"name": "rr", "strategy": "round-robin"}])
    picks = [engine.route(RouteRequest("rr", "x")).model for _ in range(4)]
    assert picks == ["math-pro", "poet", "cheap", "math-pro"]


def test_pool_changes_are_seen_by_the_next_decision(make_engine) -> None:
    engine = make_engine()
    engine.pool.remove_model("math-pro")
    assert engine.route(RouteRequest("auto", MATH)).model != "math-pro"
    engine.pool.upsert_model(parse_model({"name": "math-pro", "cost_per_query_usd": 0.01}))
    assert engine.route(RouteRequest("auto", MATH)).model == "math-pro"
    for name in ("poet", "cheap", "math-pro"):
        engine.pool.remove_model(name)
    with pytest.raises(NoEligibleModelError, match="no candidate model"):
        engine.route(RouteRequest("auto", MATH))


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("What is the capital of France?", "en"),
        ("北京是中国的首都吗？请回答。", "zh"),
        ("東京はどこですか", "ja"),
        ("서울은 한국의 수도입니다", "ko"),
        ("Где находится Москва?", "ru"),
        ("ما هي عاصمة فرنسا؟", "ar"),
        ("Où se trouve la tour Eiffel ?", "fr"),
        ("Wo liegt der Bodensee?", "de"),
        ("", "und"),
    ],
)
def test_language_is_identified_as_an_iso_code(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_complexity_buckets() -> None:
    assert complexity("hi there") == "low"
    assert complexity("word " * 100) == "medium"
    assert complexity("word " * 500) == "high"
    assert has_code("int main() {\n  return 0;\n}") and not has_code("a plain sentence.")


def test_router_artifact_rewritten_on_disk_is_reloaded(tmp_path, router, hashing) -> None:
    import copy

    import numpy as np

    from polyroute.engine import HttpxUpstream, RoutingEngine
    from polyroute.gateway_config import GatewaySettings
    from polyroute.pool import ModelPool
    from polyroute.state import InMemoryStateStore

    router.save(tmp_path / "router")
    settings = GatewaySettings.model_validate(
        {
            "models": [
                {"name": m, "cost_per_query_usd": 0.01}
                for m in ("math-pro", "poet", "cheap", "newbie")
            ],
            "profiles": [{"name": "auto", "encoder": "hashing", "router": "router"}],
        }
    )
    store = InMemoryStateStore()
    pool = ModelPool(":memory:", store=store)
    pool.seed(settings.models)
    engine = RoutingEngine(
        settings,
        pool,
        store=store,
        upstream=HttpxUpstream(),
        secret_lookup=lambda name: None,
        encoders={"hashing": hashing},
        config_dir=tmp_path,
        poll_interval_s=0.0,
    )
    engine.start()
    first = engine.route(RouteRequest("auto", MATH))
    assert "newbie" not in [c.model for c in first.candidates]
    onboarded = copy.deepcopy(router)  # what `polyroute onboard --router-dir` writes
    X = hashing.encode([MATH] * 20)
    onboarded.add_models(X, np.ones((20, 1)), ["newbie"]).save(tmp_path / "router")
    second = engine.route(RouteRequest("auto", MATH))
    assert "newbie" in [c.model for c in second.candidates]
    engine.close()
