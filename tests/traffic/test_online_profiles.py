"""Online UniRoute profiles: feedback moves the chosen model's cell, with a minimum count,
decaying counts that follow drift both ways, shared by replicas through the log store."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from traffic_helpers import prompts

from polyroute.encoders import HashingEncoder
from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter, make_router, select
from polyroute.traffic import OnlineSettings, SQLiteLogStore, apply_feedback

SETTINGS = OnlineSettings()
MATH = "solve the equation x + 7 = 14 and compute the integral"


def _choose(router: BaseRouter, X: np.ndarray) -> str:
    return str(router.model_names_[int(select(router.predict_scores(X), cost_weight=0.0)[0])])


def test_no_feedback_or_too_little_leaves_routing_unchanged(
    tmp_path: Path, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    store = SQLiteLogStore(tmp_path / "d.db")
    X = encoder.encode([MATH])
    cell = int(tiny_router.predict_clusters(X)[0])
    event, fb = store.feedback_counts("auto")
    assert apply_feedback(tiny_router, fb, event=event, settings=SETTINGS) is tiny_router
    for _ in range(4):  # under min_count
        store.record_outcome("auto", "math-pro", n_cells=2, cell=cell, score=0.0, settings=SETTINGS)
    event, fb = store.feedback_counts("auto")
    live = apply_feedback(tiny_router, fb, event=event, settings=SETTINGS)
    np.testing.assert_array_equal(live.predict_scores(X), tiny_router.predict_scores(X))


def test_drift_moves_routing_away_and_back_through_a_shared_store(
    tmp_path: Path, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    """math-pro starts failing math prompts: routing leaves it within a few dozen outcomes;
    when it answers well again it wins its traffic back. Two store objects on one file stand
    for two gateway replicas (each reads what the other wrote)."""
    replica_a = SQLiteLogStore(tmp_path / "shared.db")
    replica_b = SQLiteLogStore(tmp_path / "shared.db")
    X = encoder.encode([MATH])
    cell = int(tiny_router.predict_clusters(X)[0])
    rng = np.random.default_rng(0)
    accuracy = {"math-pro": 1.0, "cheap": 0.4}
    history = []
    for step in range(400):
        if step == 50:
            accuracy["math-pro"] = 0.0  # drift
        if step == 200:
            accuracy["math-pro"] = 1.0  # recovery
        store = replica_a if step % 2 else replica_b
        event, fb = store.feedback_counts("auto")
        live = apply_feedback(tiny_router, fb, event=event, settings=SETTINGS)
        chosen = _choose(live, X)
        history.append(chosen)
        score = float(rng.random() < accuracy.get(chosen, 0.0))
        store.record_outcome("auto", chosen, n_cells=2, cell=cell, score=score, settings=SETTINGS)
    assert history[:50] == ["math-pro"] * 50
    left = history.index("cheap", 50)
    assert left - 50 <= 40  # routing leaves the drifted model within 40 feedback events
    assert history[150:200].count("math-pro") <= 2  # and stays away while it fails
    assert history.index("math-pro", 200) - 200 <= 100  # re-tried once the failures fade
    assert history[350:].count("math-pro") >= 48  # and wins its traffic back


def test_a_model_onboarded_later_learns_from_feedback(
    tmp_path: Path, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    texts = prompts(40)
    y = np.array([0.9 if "solve" in t else 0.1 for t in texts])
    router = make_router("uniroute-kmeans", n_clusters=2, random_state=0)
    router.fit(
        encoder.encode(prompts(120)),
        np.tile([1.0, 0.0, 0.4], (120, 1)),
        model_names=["math-pro", "poet", "cheap"],
    )
    router.add_models(encoder.encode(texts), y[:, None], ["newcomer"])  # type: ignore[attr-defined]
    X = encoder.encode([MATH])
    cell = int(router.predict_clusters(X)[0])
    store = SQLiteLogStore(tmp_path / "d.db")
    before = router.predict_scores(X)[0, -1]
    for _ in range(30):
        store.record_outcome("auto", "newcomer", n_cells=2, cell=cell, score=0.0, settings=SETTINGS)
    event, fb = store.feedback_counts("auto")
    after = apply_feedback(router, fb, event=event, settings=SETTINGS).predict_scores(X)[0, -1]
    assert after < before - 0.3


def test_feedback_needs_a_profile_router_and_a_valid_cell(tmp_path: Path) -> None:
    store = SQLiteLogStore(tmp_path / "d.db")
    with pytest.raises(DataError, match="outside the router's 2 profile cells"):
        store.record_outcome("auto", "m", n_cells=2, cell=5, score=1.0, settings=SETTINGS)
    knn = make_router("knn").fit(np.eye(3), np.eye(3), model_names=["a", "b", "c"])
    with pytest.raises(DataError, match="keeps no profile counts"):
        apply_feedback(knn, {}, event=0, settings=SETTINGS)
    with pytest.raises(DataError, match="decay must be in"):
        OnlineSettings(decay=1.5)
