from __future__ import annotations

import numpy as np
import pytest

from polyroute.exceptions import DataError, NotFittedError
from polyroute.routers import load_router, make_router, router_class

NAMES = ["a", "b", "c", "d"]


def _fit(data, **params):
    router = make_router("uniroute-kmeans", random_state=0, **params)
    return router.fit(data["X"][:1600], data["Y"][:1600, :4], model_names=NAMES)


def test_laplace_profile_matches_paper_formula(clustered):
    router = _fit(clustered, n_clusters=6)
    errors, counts = router.errors_, router.counts_
    np.testing.assert_allclose(router.profiles(), (errors + 1.0) / (counts + 2.0))
    router.add_models(np.zeros((0, 16), np.float32), np.zeros((0, 1)), ["empty"])
    assert np.allclose(router.profiles()[-1], 0.5)  # empty cluster -> 0.5


def test_new_model_profile_recovers_per_cluster_accuracy(clustered):
    data = clustered
    router = _fit(data, n_clusters=6, smoothing="shrink")
    router.add_models(data["X"][1600:2000], data["Y"][1600:2000, 4:], ["new"], costs=[1.0])
    scores = router.predict_scores(data["X"][2000:])
    truth = data["acc"][4, data["group"][2000:]]
    assert np.abs(scores[:, 4] - truth).mean() < 0.08
    assert router.model_costs_[-1] == 1.0 and np.isnan(router.model_costs_[0])


def test_routes_each_group_to_its_specialist(clustered):
    data = clustered
    # UniRoute as published: the safe rule (default safety=0.9) deliberately shrinks the ~10% of
    # in-task prompts least like their training neighbours towards the overall prior
    router = _fit(data, n_clusters=6, safety=None)
    chosen = router.route(data["X"][2000:], np.ones(4), cost_weight=0.0)
    best = data["acc"][:4, data["group"][2000:]].argmax(0)
    assert (chosen == best).mean() > 0.95
    safe = _fit(data, n_clusters=6).route(data["X"][2000:], np.ones(4), cost_weight=0.0)
    assert (safe == best).mean() > 0.85


def test_update_profile_equals_profiling_all_at_once(clustered):
    data = clustered
    X_val, y_val = data["X"][1600:2000], data["Y"][1600:2000, 4:]
    once = _fit(data, n_clusters=6).add_models(X_val, y_val, ["new"])
    twice = _fit(data, n_clusters=6).add_models(X_val[:150], y_val[:150], ["new"])
    twice.update_profile("new", X_val[150:], y_val[150:, 0])
    np.testing.assert_allclose(twice.counts_, once.counts_)
    np.testing.assert_allclose(twice.profiles(), once.profiles())


def test_remove_models_is_immediate_and_rejects_unknown(clustered):
    router = _fit(clustered, n_clusters=6)
    router.remove_models(["b"])
    assert router.model_names_ == ["a", "c", "d"]
    assert router.predict_scores(clustered["X"][:3]).shape == (3, 3)
    with pytest.raises(DataError, match="unknown model"):
        router.remove_models(["zzz"])
    with pytest.raises(DataError, match="leave no model"):
        router.remove_models(["a", "c", "d"])


def test_add_models_rejects_existing_name_and_bad_shapes(clustered):
    router = _fit(clustered, n_clusters=6)
    with pytest.raises(DataError, match="already in the router"):
        router.add_models(clustered["X"][:5], clustered["Y"][:5, :1], ["a"])
    with pytest.raises(DataError, match="expected \\(5, 2\\)"):
        router.add_models(clustered["X"][:5], clustered["Y"][:5, :1], ["x", "y"])
    with pytest.raises(DataError, match="must lie in \\[0, 1\\]"):
        router.add_models(clustered["X"][:5], np.full((5, 1), 2.0), ["x"])


def test_auto_choices_and_soft_hierarchical_variant(clustered):
    router = _fit(
        clustered,
        n_clusters="auto",
        cluster_grid=(2, 6, 24),
        smoothing="hierarchical",
        assignment="soft",
        n_onboard_prompts=200,
    )
    assert router.n_clusters_ in (6, 24)  # 2 clusters cannot separate the specialists
    assert router.temperatures_[0] > 0 and router.shrink_strength_ > 0
    scores = router.predict_scores(clustered["X"][2000:])
    assert np.all((scores >= 0) & (scores <= 1))


def test_save_load_round_trip_plain_files(clustered, tmp_path):
    router = _fit(clustered, n_clusters=6, smoothing="shrink", assignment="soft")
    router.add_models(clustered["X"][1600:1700], clustered["Y"][1600:1700, 4:], ["new"], costs=[2])
    router.save(tmp_path / "r")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["arrays.npz", "router.json"]
    loaded = load_router(tmp_path / "r")
    np.testing.assert_allclose(
        loaded.predict_scores(clustered["X"][:50]), router.predict_scores(clustered["X"][:50])
    )
    assert loaded.model_names_ == router.model_names_
    loaded.update_profile("new", clustered["X"][:10], clustered["Y"][:10, 4])  # still mutable


def test_invalid_params_and_unfitted_use():
    router = make_router("uniroute-kmeans", smoothing="median")
    with pytest.raises(DataError, match="smoothing must be one of"):
        router.fit(np.zeros((10, 3)), np.zeros((10, 2)), model_names=["a", "b"])
    with pytest.raises(NotFittedError):
        make_router("uniroute-kmeans").predict_scores(np.zeros((2, 3)))
    with pytest.raises(DataError, match="n_clusters=20 exceeds"):
        make_router("uniroute-kmeans").fit(np.ones((5, 3)), np.zeros((5, 1)), model_names=["a"])


@pytest.mark.parametrize("name", ["uniroute-kmeans", "uniroute-learnedmap"])
def test_conformance(name):
    from polyroute.testing import check_router

    check_router(router_class(name), params={"n_clusters": 4, "random_state": 0})


def test_learned_map_beats_its_kmeans_start_on_correctness(clustered):
    """The learned map is trained on the reference models' correctness; for a new model whose
    strengths follow distinctions the reference models make, it must do at least as well as the
    soft K-means it starts from."""
    data = clustered
    rng = np.random.default_rng(1)
    acc_new = np.array([0.95, 0.95, 0.2, 0.2, 0.6, 0.6])
    y_new = (rng.uniform(size=2400) < acc_new[data["group"]]).astype(float)
    loss = {}
    for max_iter in (0, 60):
        router = make_router(
            "uniroute-learnedmap",
            n_clusters=6,
            max_iter=max_iter,
            random_state=0,
            smoothing="shrink",
        )
        router.fit(data["X"][:1600], data["Y"][:1600, :4], model_names=NAMES)
        router.add_models(data["X"][1600:2000], y_new[1600:2000, None], ["new"])
        p = np.clip(router.predict_scores(data["X"][2000:])[:, 4], 1e-3, 1 - 1e-3)
        y = y_new[2000:]
        loss[max_iter] = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert loss[60] <= loss[0] + 0.01
    assert loss[60] < 0.55  # far better than a constant (~0.69 for this new model)


def test_multi_resolution_ensemble_averages_clusterings(clustered, tmp_path):
    data = clustered
    router = _fit(
        data,
        n_clusters="multi",
        cluster_grid=(3, 6, 12),
        smoothing="shrink",
        assignment="soft",
        n_onboard_prompts=200,
    )
    assert router.block_sizes_.tolist() == [3, 6, 12] and router.n_clusters_ == 21
    assert np.allclose(router.counts_.sum(1), 3 * 1600)  # every prompt counted once per block
    router.add_models(data["X"][1600:2000], data["Y"][1600:2000, 4:], ["new"])
    scores = router.predict_scores(data["X"][2000:])
    assert np.all((scores >= 0) & (scores <= 1))
    truth = data["acc"][4, data["group"][2000:]]
    assert np.abs(scores[:, 4] - truth).mean() < 0.15
    router.save(tmp_path / "m")
    np.testing.assert_allclose(
        load_router(tmp_path / "m").predict_scores(data["X"][:20]),
        router.predict_scores(data["X"][:20]),
    )


def test_predict_clusters_names_a_profile_cell_per_prompt() -> None:
    from polyroute.testing import make_routing_dataset

    ds = make_routing_dataset(n_prompts=120, n_models=3, seed=1)
    X = np.random.default_rng(0).normal(size=(120, 8))
    router = make_router("uniroute-kmeans", n_clusters=4, random_state=0)
    router.fit(X, ds.scores, model_names=ds.model_names)
    cells = router.predict_clusters(X)
    assert cells.shape == (120,)
    assert set(cells.tolist()) <= set(range(len(router.cluster_labels())))
    assert len(set(cells.tolist())) > 1
