"""The shipped default router artifact: small plain files that load and accept new models."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import polyroute
from polyroute.encoders import make_encoder
from polyroute.onboarding import Outcome, onboard_model, read_validation_set
from polyroute.routers import load_router

ARTIFACT = Path(polyroute.__file__).parent / "assets" / "default_router"


def test_default_artifact_is_small_plain_files():
    names = sorted(p.name for p in ARTIFACT.iterdir())
    assert names == [
        "arrays.npz",
        "difficulty.json",  # the learned-difficulty model (polyroute.context), plain arrays
        "difficulty.npz",
        "router.json",
        "validation.jsonl.gz",
    ]
    with np.load(ARTIFACT / "difficulty.npz", allow_pickle=False) as npz:
        assert sum(npz[k].size for k in npz.files) < 2_000
    # mostly the float16 training prompts the safe rule measures support against
    sizes = sum((ARTIFACT / n).stat().st_size for n in ("arrays.npz", "router.json"))
    assert sizes < 1_500_000
    with np.load(ARTIFACT / "arrays.npz", allow_pickle=False) as npz:  # no pickled objects
        assert {"centroids_", "support_reference_", "prior_quality_"} <= set(npz.files)


def test_default_artifact_loads_and_onboards(tmp_path):
    router = load_router(ARTIFACT)
    encoder = make_encoder(router.encoder_)
    assert router.encoder_ == "minilm-static" and router.n_features_in_ == encoder.dim
    assert len(router.model_names_) == 11 and np.isfinite(router.model_costs_).all()
    items = read_validation_set(ARTIFACT / "validation.jsonl.gz")
    assert len(items) >= 200 and {it.grader for it in items} == {"choice"}
    X_val = np.random.default_rng(0).normal(size=(len(items), encoder.dim)).astype(np.float32)
    outcomes = [Outcome(it.prompt_id, "new", float(i % 2)) for i, it in enumerate(items)]
    summary = onboard_model(
        router, "new", X_val, outcomes, prompt_ids=[it.prompt_id for it in items], cost=0.001
    )
    assert summary["n_prompts"] == len(items) and summary["accuracy"] == 0.5
    assert router.route(X_val[:5], router.model_costs_).shape == (5,)


def test_default_artifact_falls_back_to_the_best_overall_model_far_from_its_data():
    from polyroute.routers import select

    router = load_router(ARTIFACT)
    assert router.safety is not None
    X = np.random.default_rng(1).normal(size=(20, router.n_features_in_)).astype(np.float32)
    scores, support = router.predict_scores(X, return_support=True)
    assert (support == 0).all() and scores.shape == (20, len(router.model_names_))
    prior = np.asarray(router.prior_quality_)
    for lam in (0.0, 0.5, 5.0):  # at every λ: the query-blind (ZeroRouter) choice
        want = select(prior[None, :], router.model_costs_, cost_weight=lam)[0]
        assert (router.route(X, router.model_costs_, cost_weight=lam) == want).all()
    assert "low support" in (router.support_reason(0.0) or "")
