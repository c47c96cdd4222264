"""A logged traffic fixture: a tiny UniRoute router (math vs poetry clusters on hashing
embeddings) and a decision log of requests it routed, with usage costs and some feedback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from traffic_helpers import COSTS, MODELS, prompts

from polyroute.encoders import HashingEncoder
from polyroute.routers import BaseRouter, make_router, select
from polyroute.traffic import DecisionRecord, SQLiteLogStore, prompt_digest


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(scope="session")
def tiny_router(encoder: HashingEncoder) -> BaseRouter:
    texts = prompts(120)
    y_math = np.array([i % 2 for i in range(120)], dtype=float)
    Y = np.stack([y_math, 1 - y_math, np.full(120, 0.4)], axis=1)
    # safety=None: hashed test prompts share no words with the training ones, so the safe rule
    # would shrink every prediction to the prior; these tests are about the log and calibration
    router = make_router("uniroute-kmeans", n_clusters=2, random_state=0, safety=None)
    router.fit(encoder.encode(texts), Y, model_names=list(MODELS))
    router.encoder_ = "hashing"  # type: ignore[attr-defined]
    return router


@pytest.fixture
def log_path(tmp_path: Path, tiny_router: BaseRouter, encoder: HashingEncoder) -> Path:
    """200 requests routed at λ = 0 (so math-pro and poet answer), usage = 1.5 × estimate,
    feedback on every other request (1 when the chosen model suits the prompt)."""
    texts = prompts(200, offset=1000)
    X = encoder.encode(texts)
    scores = tiny_router.predict_scores(X)
    choice = select(scores, COSTS, cost_weight=0.0)
    path = tmp_path / "decisions.db"
    store = SQLiteLogStore(path)
    records = []
    for i, text in enumerate(texts):
        j = int(choice[i])
        records.append(
            DecisionRecord(
                request_id=f"r{i}",
                time_s=1_000.0 + i,
                model=MODELS[j],
                key_id="tester",
                profile="auto",
                cost_weight=0.0,
                candidates=MODELS,
                predicted_quality=tuple(float(s) for s in scores[i]),
                candidate_cost_usd=tuple(float(c) for c in COSTS),
                cost_usd=float(COSTS[j] * 1.5),
                encoder="hashing",
                embedding=X[i],
                prompt_hash=prompt_digest(text),
                prompt_text=text,
            )
        )
    store.write(records)
    for i in range(0, 200, 2):
        suits = (records[i].model == "math-pro") == ("solve" in texts[i])
        store.set_feedback(f"r{i}", 1.0 if suits else 0.0, source="test")
    store.close()
    return path
