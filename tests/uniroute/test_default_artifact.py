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
    assert sum((ARTIFACT / n).stat().st_size for n in ("arrays.npz", "router.json")) < 200_000
    with np.load(ARTIFACT / "arrays.npz", allow_pickle=False) as npz:  # no pickled objects
        assert "centroids_" in npz.files


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
