"""Contextual rules through the gateway: language, topic described in words, learned difficulty.

The profile embeds with the real ``minilm-static`` encoder (what ``auto`` ships with), so topic
similarity and the shipped difficulty model see real embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import numpy as np
import pytest
from gateway_helpers import CLIENT_KEY, ENV, MATH, MODELS, client, settings_for

from polyroute.encoders import make_encoder
from polyroute.routers import BaseRouter, make_router
from polyroute.server import create_app
from polyroute.testing import FakeUpstream, ServerThread

HARD = "Find the number of ordered pairs of positive integers (m, n) such that m^2 n = 20^20."
EASY = "Which of these is a fruit? A. apple B. chair C. car D. shoe"
PROFILE = {
    "name": "auto",
    "encoder": "minilm-static",
    "cost_weight": 0.0,
    "topics": [
        {"name": "cooking", "description": "Cooking: recipes, baking, ingredients, kitchen."},
        {"name": "law", "description": "Law: contracts, courts, lawsuits and legal rights."},
    ],
    "rules": [
        {"name": "french", "when": {"language": ["fr"]}, "model": "cheap"},
        {"name": "lawyer", "when": {"pattern": r"\b(statute|attorney)\b"}, "model": "math-pro"},
        {"name": "kitchen", "when": {"topic": "cooking"}, "model": "poet"},
        {"name": "hard", "when": {"min_difficulty": 0.6}, "candidates": ["math-pro"]},
    ],
}


@pytest.fixture(scope="module")
def gateway() -> Iterator[ServerThread]:
    enc = make_encoder("minilm-static")
    prompts = [f"solve the equation x + {i} = {2 * i}" for i in range(20)]
    prompts += [f"write a poem about the sea number {i}" for i in range(20)]
    y = np.r_[np.ones(20), np.zeros(20)]
    router: BaseRouter = make_router("uniroute-kmeans", n_clusters=2, random_state=0).fit(
        enc.encode(prompts), np.stack([y, 1 - y, np.full(40, 0.4)], axis=1), model_names=MODELS
    )
    with ExitStack() as stack:
        ups = {m: stack.enter_context(FakeUpstream(lambda req, m=m: f"from {m}")) for m in MODELS}
        settings = settings_for({m: [u.base_url] for m, u in ups.items()}, profiles=[PROFILE])
        app = create_app(
            settings,
            environ=ENV,
            encoders={"minilm-static": enc},
            routers={"auto": router},
        )
        yield stack.enter_context(ServerThread(app))


def ask(srv: ServerThread, text: str) -> tuple[str, str]:
    raw = client(srv).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": text}]
    )
    return raw.headers["x-polyroute-model"], raw.headers["x-polyroute-reason"]


def test_french_prompt_matches_a_language_fr_rule(gateway: ServerThread) -> None:
    assert ask(gateway, "Pouvez-vous m'aider à écrire une lettre de motivation ?") == (
        "cheap",
        "rule 'french' matched",
    )
    _model, reason = ask(gateway, MATH[0]["content"])
    assert "french" not in reason


def test_prompt_matches_a_topic_described_in_words_without_any_regex(gateway: ServerThread) -> None:
    text = "How long should bread dough rise before it goes into the oven?"
    assert not any(w in text for w in ("cooking", "recipe", "kitchen", "statute", "attorney"))
    assert ask(gateway, text) == ("poet", "rule 'kitchen' matched")


def test_hard_prompt_by_learned_difficulty_goes_to_the_strong_pool(gateway: ServerThread) -> None:
    model, reason = ask(gateway, HARD)
    assert model == "math-pro" and reason.startswith("rule 'hard' narrowed candidates")
    assert "rule 'hard'" not in ask(gateway, EASY)[1]
    route = {}
    for text in (HARD, EASY):
        r = httpx.post(
            gateway.url + "/v1/route",
            json={"model": "auto", "messages": [{"role": "user", "content": text}]},
            headers={"Authorization": f"Bearer {CLIENT_KEY}"},
        )
        assert r.status_code == 200, r.text
        route[text] = r.json()["difficulty"]
    assert route[HARD] >= 0.6 > route[EASY]
