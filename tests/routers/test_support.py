"""Support and the safe rule: routers know when a prompt is unlike their training data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyroute.data import RoutingDataset, load_dataset
from polyroute.encoders import make_encoder
from polyroute.exceptions import DataError
from polyroute.routers import make_router, select

LEARNED = ("knn", "mlp", "linear", "uniroute-kmeans", "uniroute-learnedmap")
FAST = {"mlp": {"max_epochs": 20}, "uniroute-learnedmap": {"max_iter": 20, "n_clusters": 8}}


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POLYROUTE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def routerbench(data_dir: Path) -> RoutingDataset:
    return load_dataset("routerbench", data_dir=data_dir)


def _embed(prompts: list[str]) -> np.ndarray:
    return np.asarray(make_encoder("hashing").encode(prompts), dtype=np.float32)


def test_support_falls_as_prompts_move_away_from_training_data(
    routerbench: RoutingDataset, data_dir: Path
) -> None:
    train, test = routerbench.split("train"), routerbench.split("test")
    router = make_router("knn").fit(
        _embed(list(train.prompts)),
        train.scores,
        model_names=list(train.model_names),
        tasks=list(train.tasks),
    )
    other = load_dataset("routerdc", data_dir=data_dir)
    far = [str(p) for p, t in zip(other.prompts, other.tasks, strict=True) if "gsm8k" in str(t)]
    X_in, X_out = _embed(list(test.prompts[:300])), _embed(far[:300])
    s_in, s_out = router.predict_support(X_in), router.predict_support(X_out)
    assert s_in.shape == (300,) and ((s_in >= 0) & (s_in <= 1)).all()
    assert s_in.mean() > 0.5 > s_out.mean()
    # walking from in-distribution prompts towards the other dataset's, support only falls
    path = [
        router.predict_support((1 - t) * X_in[:50] + t * X_out[:50]).mean() for t in (0, 0.5, 1)
    ]
    assert path[0] > path[1] > path[2]
    scores, support = router.predict_scores(X_out, return_support=True)
    np.testing.assert_array_equal(support, s_out)
    assert scores.shape == (300, routerbench.n_models)


@pytest.mark.parametrize("name", LEARNED)
def test_router_fitted_on_one_task_routes_unrelated_prompts_to_the_best_overall_model(
    routerbench: RoutingDataset, name: str
) -> None:
    """Fitted on code prompts only; reasoning prompts of another task go to a strong model."""
    train = routerbench.split("train")
    code = np.flatnonzero(train.tasks == "mbpp")
    other = np.flatnonzero(train.tasks == "winogrande")
    X = _embed(list(train.prompts))
    router = make_router(name, **FAST.get(name, {}))
    router.fit(X[code], train.scores[code], model_names=list(train.model_names))
    overall = np.nanmean(train.scores[code], axis=0)
    choice = router.route(X[other], train.model_costs(), cost_weight=0.0)
    # never a model that is poor overall (more than 10 points below the best) ...
    assert (overall[choice] >= overall.max() - 0.10).all()
    # ... and nearly always the best overall model itself
    assert np.mean(overall[choice] == overall.max()) >= 0.9


def test_safety_none_is_the_router_as_published(routerbench: RoutingDataset) -> None:
    train = routerbench.split("train")
    X = _embed(list(train.prompts))
    safe = make_router("mlp", max_epochs=5).fit(
        X, train.scores, model_names=list(train.model_names)
    )
    plain = make_router("mlp", max_epochs=5, safety=None).fit(
        X, train.scores, model_names=list(train.model_names)
    )
    np.testing.assert_allclose(plain.predict_scores(X[:20]), safe._predict_quality(X[:20]))
    assert np.all(plain.predict_scores(X[:20], return_support=True)[1] == 1.0)
    with pytest.raises(DataError, match="safety must be None"):
        make_router("knn", safety=1.5).fit(X, train.scores, model_names=list(train.model_names))


@pytest.mark.parametrize("name", ["knn", "uniroute-kmeans", "linear"])
def test_ties_on_binary_labels_do_not_pick_the_cheapest_model(name: str) -> None:
    """Both models solve every prompt of topic A; only the dear one solves topic B. On topic A
    the dear model is at least as good and better overall: the tie must not go to the cheap one."""
    rng = np.random.default_rng(0)
    centres = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])
    topic = np.repeat([0, 1], 200)
    X = (centres[topic] + rng.normal(scale=0.3, size=(400, 3))).astype(np.float32)
    Y = np.column_stack([(topic == 0).astype(float), np.ones(400)])  # cheap, dear
    router = make_router(name).fit(X, Y, model_names=["cheap", "dear"])
    costs = np.array([1.0, 10.0])
    assert (router.route(X[topic == 0], costs, cost_weight=0.0) == 1).all()
    # as published (safety off) the K-NN tie goes to the cheap model: what the safe rule fixes
    if name == "knn":
        plain = make_router("knn", prior_strength=0, safety=None).fit(
            X, Y, model_names=["cheap", "dear"]
        )
        assert (select(plain.predict_scores(X[topic == 0]), costs) == 0).all()


def test_support_reason_says_when_the_router_fell_back(routerbench: RoutingDataset) -> None:
    train = routerbench.split("train")
    router = make_router("knn").fit(
        _embed(list(train.prompts)), train.scores, model_names=list(train.model_names)
    )
    assert router.support_reason(1.0) is None
    text = router.support_reason(0.0, 0.41)
    assert text is not None and "low support" in text and "0.41" in text and "best overall" in text
    assert make_router("knn", safety=None).support_reason(0.0) is None
