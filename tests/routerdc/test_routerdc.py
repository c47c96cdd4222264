"""RouterDC (ContrastiveRouter): training on real RouterDC data, persistence, new LLMs, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from polyroute.exceptions import DataError, NotFittedError, PolyrouteWarning
from polyroute.routers import load_router, make_router, router_class


def _accuracy(router, X, Y) -> float:  # type: ignore[no-untyped-def]
    choice = router.route(X)
    return float(Y[np.arange(len(Y)), choice].mean())


def _small(**params):  # type: ignore[no-untyped-def]
    base = {
        "n_steps": 20,
        "eval_every": 10,
        "batch_size": 32,
        "random_state": 0,
        "show_progress": False,
    }
    return make_router("routerdc", **{**base, **params})


# ---------------------------------------------------------------------------- training
def test_trained_router_beats_random_choice_on_real_data(routerdc_slices, fitted_router):
    _, test = routerdc_slices
    acc = _accuracy(fitted_router, test.X, test.Y)
    random_choice = float(test.Y.mean())  # expected accuracy of a uniformly random LLM
    assert acc > random_choice + 0.03


def test_routing_depends_on_the_llm_embeddings(routerdc_slices, fitted_router):
    _, test = routerdc_slices
    before = fitted_router.route(test.X)
    shuffled = clone(fitted_router)
    state = {k: v for k, v in vars(fitted_router).items() if k.endswith("_")}
    for key, value in state.items():
        setattr(shuffled, key, value)
    shuffled.llm_embeddings_ = fitted_router.llm_embeddings_[::-1].copy()
    after = shuffled.route(test.X)
    assert (before != after).mean() > 0.3


def test_losses_decrease_and_best_checkpoint_is_recorded(fitted_router):
    hist = fitted_router.history_
    assert hist["llm_loss"][-1] < hist["llm_loss"][0]
    assert hist["sample_loss"][-1] < hist["sample_loss"][0]
    assert fitted_router.best_step_ in hist["step"]
    assert len(hist["holdout_quality"]) == len(hist["step"]) == 6


def test_predictions_are_probabilities_and_argmax_matches_similarity(
    routerdc_slices, fitted_router
):
    _, test = routerdc_slices
    scores, support = fitted_router.predict_scores(test.X, return_support=True)
    proba = fitted_router.predict_proba(test.X)
    assert scores.shape == proba.shape == (len(test.X), len(test.model_names))
    assert np.all((scores > 0) & (scores < 1))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # the calibration is monotone: quality-only routing is RouterDC's argmax similarity wherever
    # the safe rule leaves the prediction alone (full support)
    full = support >= 1.0
    assert full.mean() > 0.5
    np.testing.assert_array_equal(scores[full].argmax(1), proba[full].argmax(1))


def test_cost_weight_moves_choices_to_the_cheap_model(routerdc_slices, fitted_router):
    _, test = routerdc_slices
    costs = np.ones(len(test.model_names))
    costs[3] = 0.0
    assert (fitted_router.route(test.X, costs, cost_weight=0.0) == 3).mean() < 0.9
    assert (fitted_router.route(test.X, costs, cost_weight=10.0) == 3).all()


def test_cluster_prior_blends_task_profiles(routerdc_slices):
    train, test = routerdc_slices
    router = _small(cluster_source="tasks", prior_weight=0.5)
    router.fit(train.X, train.Y, model_names=train.model_names, tasks=train.tasks)
    assert router.cluster_quality_.shape == (5, 7)
    assign = router.cluster_proba(test.X)
    np.testing.assert_allclose(assign.sum(1), 1.0, rtol=1e-6)
    # the soft task assignment recognises most test prompts' task
    names = np.unique(train.tasks)
    assert (names[assign.argmax(1)] == test.tasks).mean() > 0.6


# ---------------------------------------------------------------------------- determinism
def test_fit_is_deterministic_and_permutation_equivariant(routerdc_slices):
    train, test = routerdc_slices
    a = _small().fit(train.X, train.Y, model_names=train.model_names).predict_scores(test.X)
    b = _small().fit(train.X, train.Y, model_names=train.model_names).predict_scores(test.X)
    np.testing.assert_array_equal(a, b)
    perm = np.array([3, 0, 6, 1, 5, 2, 4])
    names = [train.model_names[i] for i in perm]
    c = _small().fit(train.X, train.Y[:, perm], model_names=names).predict_scores(test.X)
    np.testing.assert_allclose(c, a[:, perm], rtol=1e-5, atol=1e-6)


def test_params_clone_round_trip():
    router = make_router("routerdc", embed_dim=64, temperature=0.5, random_state=3)
    again = clone(router)
    assert again.get_params() == router.get_params()
    assert router_class("routerdc").supports_new_models


# ---------------------------------------------------------------------------- persistence
def test_save_load_round_trip_gives_identical_predictions(routerdc_slices, fitted_router, tmp_path):
    _, test = routerdc_slices
    fitted_router.save(tmp_path / "rdc")
    assert sorted(p.name for p in (tmp_path / "rdc").iterdir()) == ["arrays.npz", "router.json"]
    loaded = load_router(tmp_path / "rdc")
    assert type(loaded) is type(fitted_router)
    np.testing.assert_array_equal(
        loaded.predict_scores(test.X), fitted_router.predict_scores(test.X)
    )
    assert loaded.model_names_ == list(test.model_names)


# ---------------------------------------------------------------------------- new LLMs
def test_add_models_fits_a_new_llm_that_prefers_its_strong_prompts(routerdc_slices):
    train, test = routerdc_slices
    router = _small(n_steps=200).fit(
        train.X[:, :], train.Y[:, :6], model_names=train.model_names[:6]
    )
    # a specialist: dolphin-2.9's real GSM8K/HumanEval scores, useless elsewhere
    strong = np.isin(train.tasks, ["gsm8k", "humaneval"])
    y_new = np.where(strong, train.Y[:, 6], 0.0)[:, None]
    emb_before = router.llm_embeddings_.copy()
    router.add_models(train.X, y_new, ["specialist"])
    assert router.model_names_[-1] == "specialist"
    np.testing.assert_array_equal(router.llm_embeddings_[:6], emb_before)
    pred = router.predict_scores(test.X)[:, -1]
    test_strong = np.isin(test.tasks, ["gsm8k", "humaneval"])
    # the new LLM keeps the trained LLMs' calibration slope: compare ranks, not levels
    ranked_right = (pred[test_strong][:, None] > pred[~test_strong][None, :]).mean()
    assert ranked_right > 0.7
    chosen = router.route(test.X) == 6
    assert chosen[test_strong].mean() > chosen[~test_strong].mean()
    router.remove_models(["specialist"])
    assert router.llm_embeddings_.shape[0] == 6


def test_onboarding_adds_a_priced_llm_and_leaves_the_router_unchanged_on_failure(
    routerdc_slices, fitted_router, tmp_path
):
    """The onboarding path (`polyroute onboard`, the gateway's admin API) works for RouterDC."""
    from polyroute.exceptions import OnboardingError
    from polyroute.onboarding import Outcome, onboard_model

    train, test = routerdc_slices
    router = load_like(fitted_router)
    ids = [f"p{i}" for i in range(len(train.X))]
    real = train.Y[:, 6]  # dolphin-2.9's real scores, graded as a new model
    outcomes = [Outcome(pid, "newcomer", float(y)) for pid, y in zip(ids, real, strict=True)]
    before = router.llm_embeddings_.copy()
    with pytest.raises(OnboardingError, match="expected at least 10"):
        onboard_model(router, "newcomer", train.X[:5], outcomes[:5], prompt_ids=ids[:5])
    np.testing.assert_array_equal(router.llm_embeddings_, before)
    assert "newcomer" not in router.model_names_

    summary = onboard_model(router, "newcomer", train.X, outcomes, prompt_ids=ids, cost=0.002)
    assert summary["model"] == "newcomer" and summary["cost"] == 0.002
    assert summary["n_prompts"] == pytest.approx(len(ids))
    assert summary["accuracy"] == pytest.approx(real.mean(), abs=0.05)
    assert len(summary["clusters"]) == router.cluster_quality_.shape[0]
    trained = router.profile_summary(train.model_names[0])
    assert trained["cost"] is None and trained["n_prompts"] > 0
    router.save(tmp_path / "onboarded")
    loaded = load_router(tmp_path / "onboarded")
    assert loaded.model_names_[-1] == "newcomer" and loaded.model_costs_[-1] == 0.002
    # an unknown price does not stop the new model from being chosen at λ = 0
    choice = loaded.route(test.X, loaded.model_costs_, cost_weight=0.0)
    np.testing.assert_array_equal(choice, loaded.route(test.X))
    assert (choice == len(loaded.model_names_) - 1).any()
    loaded.remove_models(["newcomer"])
    assert loaded.model_costs_.shape == (len(train.model_names),)


def test_add_models_rejects_known_names_and_bad_shapes(fitted_router, routerdc_slices):
    train, _ = routerdc_slices
    with pytest.raises(DataError, match="new, distinct"):
        clone_router = load_like(fitted_router)
        clone_router.add_models(train.X[:10], np.ones((10, 1)), [train.model_names[0]])
    with pytest.raises(DataError, match=r"expected \(10, 2\)"):
        load_like(fitted_router).add_models(train.X[:10], np.ones((10, 1)), ["a", "b"])


def load_like(router):  # type: ignore[no-untyped-def]
    copy = clone(router)
    for key, value in vars(router).items():
        if key.endswith("_") and not key.startswith("_"):
            setattr(copy, key, value.copy() if hasattr(value, "copy") else value)
    return copy


# ---------------------------------------------------------------------------- bad input
def test_missing_model_column_is_a_clear_error(routerdc_slices):
    train, _ = routerdc_slices
    with pytest.raises(DataError, match="Y has 6 model columns; model_names has 7"):
        _small().fit(train.X, train.Y[:, :6], model_names=train.model_names)


def test_a_model_column_with_no_scores_is_a_clear_error(routerdc_slices):
    train, _ = routerdc_slices
    Y = train.Y.copy()
    Y[:, 2] = np.nan  # e.g. an empty column in a routing file
    with pytest.raises(DataError, match=r"\['itpossible/Chinese-Mistral-7B-v0.1'\] have no score"):
        _small().fit(train.X, Y, model_names=train.model_names)


def test_cli_fits_an_unsplit_file_with_gaps_and_fewer_prompts_than_a_batch(tmp_path, capsys):
    from polyroute.cli import main

    data = tmp_path / "scores.csv"
    data.write_text(
        "prompt,model_a,model_b,model_c\n2+2?,1,0,\nhello in French,0,1,1\n"
        "add two numbers in python,1,,0\nwho wrote Hamlet?,,1,0\n"
    )
    with pytest.warns(PolyrouteWarning, match="batch_size=64 exceeds the 4 training queries"):
        assert (
            main(
                [
                    "fit",
                    "routerdc",
                    "--dataset",
                    str(data),
                    "--encoder",
                    "hashing",
                    "--param",
                    "n_steps=20",
                    "--out",
                    str(tmp_path / "r"),
                    "--no-progress",
                ]
            )
            == 0
        )
    assert "fitted routerdc on scores:all (4 prompts, 3 models" in capsys.readouterr().err
    data.write_text("prompt,model_a,model_b\nhi,1,\nho,0,\n")
    assert (
        main(
            [
                "fit",
                "routerdc",
                "--dataset",
                str(data),
                "--encoder",
                "hashing",
                "--out",
                str(tmp_path / "r2"),
            ]
        )
        == 2
    )
    assert "'model_b' have no result on any of the 2 training prompts" in capsys.readouterr().err


def test_nan_scores_are_masked_and_empty_rows_dropped(routerdc_slices):
    train, test = routerdc_slices
    Y = train.Y.copy()
    rng = np.random.default_rng(1)
    Y[rng.random(Y.shape) < 0.2] = np.nan
    Y[:5] = np.nan
    with pytest.warns(PolyrouteWarning, match="dropped 5 of"):
        router = _small().fit(train.X, Y, model_names=train.model_names)
    assert np.isfinite(router.predict_scores(test.X)).all()


def test_batch_larger_than_data_is_shrunk_with_a_warning(routerdc_slices):
    train, test = routerdc_slices
    with pytest.warns(
        PolyrouteWarning, match=r"batch_size=64 exceeds the 23 training queries \(2 more held out"
    ):
        router = _small(batch_size=64, holdout_fraction=0.1).fit(
            train.X[::20], train.Y[::20], model_names=train.model_names
        )
    assert router.predict_scores(test.X).shape == (len(test.X), 7)


@pytest.mark.parametrize(
    ("params", "Y_fn", "match"),
    [
        ({}, lambda Y: Y * 2.0, r"Y must hold scores in \[0, 1\]"),
        ({"temperature": -1.0}, lambda Y: Y, r"temperature must be in"),
        ({"cluster_source": "tsne"}, lambda Y: Y, r"cluster_source must be one of"),
        ({"cluster_source": "tasks"}, lambda Y: Y, r"needs tasks="),
        ({}, lambda Y: np.full_like(Y, np.nan), r"only NaN scores"),
    ],
)
def test_bad_training_input_raises_one_line_data_error(routerdc_slices, params, Y_fn, match):
    train, _ = routerdc_slices
    with pytest.raises(DataError, match=match):
        _small(**params).fit(train.X, Y_fn(train.Y), model_names=train.model_names)


def test_predict_before_fit_and_wrong_width(routerdc_slices, fitted_router):
    train, _ = routerdc_slices
    with pytest.raises(NotFittedError):
        make_router("routerdc").predict_scores(train.X)
    with pytest.raises(DataError, match=r"X must have shape \(n_queries, 256\)"):
        fitted_router.predict_scores(train.X[:, :100])
    bad = train.X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(DataError, match="X must be finite"):
        _small().fit(bad, train.Y, model_names=train.model_names)


def test_soft_scores_only_rank_llms_profiles_estimate_y(routerdc_slices):
    train, _ = routerdc_slices
    router = _small(cluster_source="tasks", prior_weight=1.0)
    router.fit(
        train.X, train.Y, model_names=train.model_names, tasks=train.tasks, soft_scores=train.soft
    )
    names = np.unique(train.tasks)
    expected = np.stack([train.Y[train.tasks == t].mean(0) for t in names])
    np.testing.assert_allclose(router.cluster_quality_, expected)
    with pytest.raises(DataError, match=r"soft_scores has shape \(500, 6\)"):
        _small().fit(train.X, train.Y, model_names=train.model_names, soft_scores=train.soft[:, :6])


def test_cli_onboards_a_new_llm_into_a_saved_routerdc(
    routerdc_slices, fitted_router, tmp_path, capsys
):
    """`polyroute onboard --outcomes` on a RouterDC artifact, then `onboard show`."""
    import json

    from polyroute.cli import main
    from polyroute.onboarding import ValidationItem, write_validation_set

    train, _ = routerdc_slices
    rows = np.arange(0, len(train.X), 5)
    items = [ValidationItem(f"q{i}", str(train.prompts[i]), "A") for i in rows]
    val = write_validation_set(tmp_path / "val.jsonl", items)
    outcomes = tmp_path / "outcomes.jsonl"
    outcomes.write_text(
        "\n".join(
            json.dumps({"prompt_id": f"q{i}", "model": "newcomer", "score": float(train.Y[i, 6])})
            for i in rows
        )
    )
    router = load_like(fitted_router)
    router.encoder_ = "hashing"  # the slices are embedded with HashingEncoder(dim=256)
    router.save(tmp_path / "rdc")
    assert (
        main(
            [
                "onboard",
                "--router-dir",
                str(tmp_path / "rdc"),
                "--name",
                "newcomer",
                "--outcomes",
                str(outcomes),
                "--validation-file",
                str(val),
                "--cost-per-query",
                "0.25",
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_prompts"] == pytest.approx(len(rows)) and summary["cost"] == 0.25
    assert summary["accuracy"] == pytest.approx(train.Y[rows, 6].mean(), abs=0.05)
    assert load_router(tmp_path / "rdc").model_names_[-1] == "newcomer"
    assert main(["onboard", "show", "--router-dir", str(tmp_path / "rdc")]) == 0
    assert "newcomer" in capsys.readouterr().out
