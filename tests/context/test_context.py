"""Contextual signals: language identification, topics from descriptions, learned difficulty."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from polyroute.context import (
    DifficultyModel,
    Topic,
    TopicIndex,
    _language,
    complexity,
    detect_language,
)
from polyroute.encoders import make_encoder
from polyroute.exceptions import ConfigError
from polyroute.gateway_config import GatewaySettings

DATA = Path(__file__).resolve().parents[1] / "data/langid_short_prompts.jsonl"
SHIPPED = Path(__file__).resolve().parents[2] / "src/polyroute/assets/default_router"


@pytest.fixture(scope="module")
def static_encoder():
    return make_encoder("minilm-static")


def test_language_of_short_prompts_in_18_languages() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    assert len({r["lang"] for r in rows}) >= 12
    pred = [detect_language(r["text"]) for r in rows]
    acc = np.mean([p == r["lang"] for p, r in zip(pred, rows, strict=True)])
    assert acc >= 0.95, [(r["lang"], p) for p, r in zip(pred, rows, strict=True) if p != r["lang"]]
    assert detect_language("Bonjour, pouvez-vous m'aider à écrire une lettre ?") == "fr"
    assert detect_language("12345 + 678 = ?") == "und"


def test_language_model_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(_language, "_detector", None)  # force a fresh load of the bundled model
    assert detect_language("Wie spät ist es in Berlin?") == "de"


def test_short_code_prompt_is_high_complexity() -> None:
    assert complexity("def f(x):\n    return x * 2") == "high"
    assert complexity("What is the capital of France?") == "low"
    assert complexity("word " * 100) == "medium"


def test_topics_from_descriptions_pick_the_described_subject(static_encoder) -> None:
    topics = [
        Topic("cooking", "Cooking: recipes, baking, ingredients, kitchen, food preparation."),
        Topic("law", "Law: contracts, courts, lawsuits, legal rights and judges."),
        Topic("astronomy", "Astronomy: planets, stars, galaxies, telescopes and space."),
    ]
    index = TopicIndex(topics, static_encoder)
    prompts = [
        "How long should bread dough rise before I put it in the oven?",
        "Can my landlord keep the deposit if the lease says nothing about it?",
        "Why does Jupiter have so many moons?",
    ]
    assert [index.names[i] for i in index.classify(static_encoder.encode(prompts))] == [
        "cooking",
        "law",
        "astronomy",
    ]
    strict = TopicIndex(
        [Topic(t.name, t.description, threshold=0.99) for t in topics], static_encoder
    )
    assert strict.match(static_encoder.encode(prompts[:1]))[0] is None


def test_topic_index_rejects_bad_topics(static_encoder) -> None:
    with pytest.raises(ConfigError, match="unique"):
        TopicIndex([Topic("a", "x"), Topic("a", "y")], static_encoder)
    with pytest.raises(ConfigError, match="description"):
        TopicIndex([Topic("a", " ")], static_encoder)


def test_shipped_difficulty_model_ranks_hard_above_easy(static_encoder, tmp_path: Path) -> None:
    model = DifficultyModel.load(SHIPPED)
    assert model.encoder == "minilm-static"
    easy = ["Which of these is a fruit? A. apple B. chair C. car D. shoe", "Say hello."]
    hard = [
        "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20.",
        "Compute the sum of all positive integers n for which n^2 - 19n + 99 is a perfect square.",
    ]
    d = model.predict(static_encoder.encode(easy + hard), easy + hard)
    assert ((d >= 0) & (d <= 1)).all()
    assert d[2:].min() > d[:2].max()
    model.save(tmp_path)
    again = DifficultyModel.load(tmp_path)
    np.testing.assert_allclose(again.predict(static_encoder.encode(hard), hard), d[2:], atol=1e-3)
    with pytest.raises(ConfigError, match="difficulty.npz"):
        DifficultyModel.load(tmp_path / "absent")
    with pytest.raises(ConfigError, match="256-dim"):
        model.predict(np.zeros((1, 3)), ["x"])


def test_rule_naming_an_unknown_topic_is_a_config_error() -> None:
    profile = {
        "name": "auto",
        "topics": [{"name": "law", "description": "legal questions"}],
        "rules": [{"name": "r", "when": {"topic": "cooking"}, "model": "m"}],
    }
    with pytest.raises(ValueError, match="expected a topic of this profile"):
        GatewaySettings.model_validate({"profiles": [profile]})
