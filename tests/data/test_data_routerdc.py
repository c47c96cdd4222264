from __future__ import annotations

import numpy as np
import pytest


def _task_mean_accuracy(ds, split: str, model: str) -> float:
    sub = ds.split(split)
    col = sub.model_names.index(model)
    return 100 * float(np.mean([sub.scores[sub.tasks == t, col].mean() for t in sub.task_names]))


def test_routerdc_splits_sizes(load):
    ds = load("routerdc")
    assert ds.n_models == 7
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 5935, "test": 9408, "ood": 2717}


def test_routerdc_best_single_model_matches_known_results(load):
    ds = load("routerdc")
    best = "cognitivecomputations/dolphin-2.9-llama3-8b"
    assert _task_mean_accuracy(ds, "test", best) == pytest.approx(54.56, abs=0.01)
    assert _task_mean_accuracy(ds, "ood", best) == pytest.approx(43.95, abs=0.01)
