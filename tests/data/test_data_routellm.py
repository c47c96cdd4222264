from __future__ import annotations

import numpy as np
import pytest

STRONG, WEAK = "gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1"


def _acc(ds, model):
    return float(ds.scores[:, ds.model_names.index(model)].mean())


def test_routellm_mmlu_accuracy_and_subjects(load):
    ds = load("routellm-mmlu")
    assert ds.n_prompts == 14042 and ds.model_names == (STRONG, WEAK)
    assert len(ds.task_names) == 57 and ds.splits == {}
    assert _acc(ds, STRONG) == pytest.approx(0.806, abs=0.001)
    assert _acc(ds, WEAK) == pytest.approx(0.681, abs=0.001)
    assert set(np.unique(ds.scores)) == {0.0, 1.0}


def test_routellm_costs_follow_the_paper_price_ratio(load):
    for name in ("routellm-mmlu", "routellm-gsm8k", "routellm-mtbench"):
        ds = load(name)
        assert ds.cost_unit == "usd" and (ds.costs > 0).all()
        assert ds.metadata["strong_model"] == STRONG
    mmlu = load("routellm-mmlu")
    # same token estimate for both models on MMLU: the ratio is the price ratio 24.7 / 0.24
    ratio = mmlu.costs[:, 0] / mmlu.costs[:, 1]
    assert np.allclose(ratio, 24.7 / 0.24)


def test_routellm_gsm8k_accuracy_and_contamination(load):
    ds = load("routellm-gsm8k")
    assert ds.n_prompts == 1319 and ds.task_names == ["gsm8k"]
    assert _acc(ds, STRONG) == pytest.approx(0.857, abs=0.001)
    assert _acc(ds, WEAK) == pytest.approx(0.638, abs=0.001)
    assert len(ds.metadata["contaminated"]) == 12
    assert set(ds.metadata["contaminated"]) <= set(ds.prompt_ids)


def test_routellm_mtbench_grades_scaled_to_unit_interval(load):
    ds = load("routellm-mtbench")
    assert ds.n_prompts == 80 and ds.scores.min() >= 0.1 and ds.scores.max() <= 1.0
    assert _acc(ds, STRONG) > _acc(ds, WEAK)
    assert len(ds.metadata["contaminated"]) == 8
