"""Baseline routers: behaviour on hand-made data and on a real RouterDC slice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyroute.data import load_dataset
from polyroute.evaluation import evaluate
from polyroute.exceptions import DataError, NotFittedError, RoutingError
from polyroute.routers import load_router, make_router
from polyroute.testing import make_routing_dataset

NAMES = ["cheap", "mid", "dear"]
COSTS = np.array([1.0, 2.0, 10.0])
X = np.eye(3)[[0, 0, 1, 1, 2, 2]]
# model quality by "topic" (the one-hot X): cheap is good on topic 0, mid on topic 1, dear always
Y = np.array([[1, 0, 1], [1, 0, 1], [0, 1, 1], [0, 1, 1], [0, 0, 1], [0, 0, 0]], dtype=float)


def test_zero_router_scores_are_training_means_and_trace_the_single_model_hull() -> None:
    r = make_router("zero-router").fit(X, Y, model_names=NAMES)
    np.testing.assert_allclose(r.predict_scores(X[:1]), [[2 / 6, 2 / 6, 5 / 6]])
    # λ = 0 -> dear; λ large -> cheap (mid has cheap's quality at a higher cost: never chosen)
    assert r.route(X[:1], COSTS, cost_weight=0.0).tolist() == [2]
    assert r.route(X[:1], COSTS, cost_weight=1.0).tolist() == [0]


def test_best_single_averages_per_task_when_tasks_are_given() -> None:
    # micro means: a = .6, b = .5; tasks t1 (rows 0-3) and t2 (row 4): a 0.75/0 -> .375, b .5/1 -> .75
    Yt = np.array([[1, 0], [1, 1], [1, 0], [0, 1], [0, 1]], dtype=float)
    tasks = ["t1", "t1", "t1", "t1", "t2"]
    Xt = np.zeros((5, 2))
    micro = make_router("best-single").fit(Xt, Yt, model_names=["a", "b"])
    macro = make_router("best-single").fit(Xt, Yt, model_names=["a", "b"], tasks=tasks)
    assert micro.route(Xt[:1]).tolist() == [0]
    assert macro.route(Xt[:1]).tolist() == [1]


def test_best_single_falls_back_to_next_best_candidate() -> None:
    r = make_router("best-single").fit(X, Y, model_names=NAMES)
    assert r.route(X, COSTS).tolist() == [2] * 6
    assert set(r.route(X, COSTS, candidates=["cheap", "mid"]).tolist()) == {0}


def test_cheapest_follows_the_costs_given_at_routing_time() -> None:
    r = make_router("cheapest").fit(X, Y, model_names=NAMES)
    assert r.route(X[:2], COSTS).tolist() == [0, 0]
    assert r.route(X[:2], np.array([5.0, 0.5, 9.0])).tolist() == [1, 1]


def test_random_router_is_seeded_and_spreads_choices() -> None:
    Xr = np.zeros((3000, 2))
    a = make_router("random", random_state=3).fit(Xr[:5], Y[:5], model_names=NAMES)
    b = make_router("random", random_state=3).fit(Xr[:5], Y[:5], model_names=NAMES)
    np.testing.assert_array_equal(a.predict_scores(Xr), b.predict_scores(Xr))
    counts = np.bincount(a.route(Xr), minlength=3) / len(Xr)
    np.testing.assert_allclose(counts, [1 / 3] * 3, atol=0.04)


def test_oracles_read_test_labels_and_refuse_predict_scores() -> None:
    oracle = make_router("oracle").fit(X, Y, model_names=NAMES)
    np.testing.assert_array_equal(oracle.oracle_scores(Y), Y)
    with pytest.raises(RoutingError, match="reads the test labels"):
        oracle.predict_scores(X)
    task = make_router("task-oracle").fit(X, Y, model_names=NAMES)
    tasks = ["a", "a", "a", "b", "b", "b"]  # a: cheap 2/3, mid 1/3, dear 1; b: 0, 1/3, 2/3
    np.testing.assert_allclose(
        task.oracle_scores(Y, tasks)[[0, 5]], [[2 / 3, 1 / 3, 1.0], [0.0, 1 / 3, 2 / 3]]
    )
    with pytest.raises(DataError, match="needs the task"):
        task.oracle_scores(Y, None)
    with pytest.raises(NotFittedError):
        make_router("oracle").oracle_scores(Y, tasks)


def test_knn_predicts_neighbour_means_and_ignores_nan_targets() -> None:
    Yn = Y.copy()
    Yn[0, 0] = np.nan
    r = make_router("knn", n_neighbors=2, prior_strength=0, safety=None).fit(
        X, Yn, model_names=NAMES
    )
    # topic-0 query: neighbours rows 0, 1 -> cheap: only row 1 known (1.0); mid 0; dear 1
    np.testing.assert_allclose(r.predict_scores(np.array([[1.0, 0.0, 0.0]])), [[1.0, 0.0, 1.0]])


def test_knn_auto_picks_k_by_cross_validation_on_train_only() -> None:
    ds = make_routing_dataset(300, 3, seed=1)
    X_all = ds.metadata["embeddings"]
    r = make_router("knn").fit(X_all, ds.scores, model_names=list(ds.model_names))
    assert r.n_neighbors_ in (5, 10, 20, 50, 100, 200) and r.prior_strength_ in (1, 4, 16)
    assert {key.split("/")[0] for key in r.cv_scores_} <= {"5", "10", "20", "50", "100", "200"}
    assert r.cv_scores_[f"{r.n_neighbors_}/{r.prior_strength_:g}"] == max(r.cv_scores_.values())


@pytest.mark.parametrize("name", ["mlp", "linear"])
def test_learned_predictors_recover_the_topic_structure(name: str) -> None:
    ds = make_routing_dataset(400, 3, seed=2, n_tasks=3)
    X_all, skill = ds.metadata["embeddings"], ds.metadata["skill"]
    train, test = ds.splits["train"], ds.splits["test"]
    r = make_router(name).fit(X_all[train], ds.scores[train], model_names=list(ds.model_names))
    pred = r.predict_scores(X_all[test])
    assert ((pred >= 0) & (pred <= 1)).all()
    # the mean prediction per topic recovers each model's skill on that topic
    per_topic = np.array(
        [pred[ds.tasks[test] == t].mean(axis=0) for t in ds.metadata["skill_tasks"]]
    )
    assert np.abs(per_topic - skill).mean() < 0.08


def test_mlp_masks_nan_targets_and_round_trips(tmp_path: Path) -> None:
    ds = make_routing_dataset(200, 3, seed=4)
    Yn = ds.scores.copy()
    Yn[::3, 1] = np.nan
    r = make_router("mlp", max_epochs=20).fit(
        ds.metadata["embeddings"], Yn, model_names=list(ds.model_names)
    )
    pred = r.predict_scores(ds.metadata["embeddings"])
    assert np.isfinite(pred).all()
    r.save(tmp_path)
    np.testing.assert_array_equal(
        load_router(tmp_path).predict_scores(ds.metadata["embeddings"]), pred
    )


def test_linear_ridge_and_bad_params() -> None:
    r = make_router("linear", loss="ridge", alpha=0.1).fit(X, Y, model_names=NAMES)
    assert r.route(X[[0, 2]]).tolist()[0] in (0, 2)
    with pytest.raises(DataError, match="loss must be 'logistic' or 'ridge'; found 'hinge'"):
        make_router("linear", loss="hinge").fit(X, Y, model_names=NAMES)
    with pytest.raises(DataError, match="n_neighbors must be a positive int or 'auto'; found 0"):
        make_router("knn", n_neighbors=0).fit(X, Y, model_names=NAMES)
    with pytest.raises(DataError, match="Y has 3 model columns; model_names has 2"):
        make_router("mlp").fit(X, Y, model_names=NAMES[:2])


def test_baselines_on_a_real_routerdc_slice(data_dir: Path, tmp_path: Path) -> None:
    ds = load_dataset("routerdc", data_dir=data_dir)
    rng = np.random.default_rng(0)
    train = ds.subset(rng.choice(ds.splits["train"], 1000, replace=False), name="train-slice")
    test = ds.subset(rng.choice(ds.splits["test"], 1000, replace=False), name="test-slice")
    result = evaluate(
        ["random", "best-single", "knn", "task-oracle", "oracle"],
        train,
        {"test": test},
        encoder="hashing",
        show_progress=False,
        embed_kwargs={"cache_dir": tmp_path},
    )
    avg = {k: v.average for k, v in result.tests["test"].routers.items()}
    assert avg["oracle"] >= avg["task-oracle"] >= avg["best-single"]
    # hashed words carry little signal: k-NN must at least match the best single model (the safe
    # rule falls back to it where support is low); "random" varies too much on 1,000 prompts
    assert avg["knn"] >= avg["best-single"]
    assert avg["oracle"] > 0.7
