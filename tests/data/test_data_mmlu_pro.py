from __future__ import annotations

import numpy as np
import pytest

from polyroute.data import load_dataset
from polyroute.exceptions import DataNotFoundError

CATEGORIES = 14


def test_mmlu_pro_shape_and_conflicts_dropped(load):
    ds = load("mmlu-pro")
    assert ds.n_models == 29 and ds.n_prompts == 12032 - 48
    assert ds.metadata["dropped_version_conflicts"] == 48
    assert len(ds.task_names) == CATEGORIES and "math" in ds.task_names
    assert ds.splits == {}


def test_mmlu_pro_missing_rows_are_nan(load):
    ds = load("mmlu-pro")
    missing = dict(zip(ds.model_names, np.isnan(ds.scores).sum(axis=0), strict=True))
    assert missing["Llama-2-7b-hf"] == 0
    assert missing["DeepSeek-Coder-V2"] > 1500  # only 10,351 of 12,032 rows in its file
    assert 0 < missing["gemini-1.5-flash-002"] <= 20


def test_mmlu_pro_accuracies_match_models_csv(load):
    ds = load("mmlu-pro")
    acc = dict(zip(ds.model_names, np.nanmean(ds.scores, axis=0), strict=True))
    # models.csv strict accuracy over 12,032: 0.1834 and 0.7018 (48 questions dropped here)
    assert acc["Llama-2-7b-hf"] == pytest.approx(0.1834, abs=0.003)
    assert acc["gemini-1.5-pro-002"] == pytest.approx(0.7018, abs=0.003)


def test_mmlu_pro_costs_are_params_times_kchars(load):
    ds = load("mmlu-pro")
    assert ds.cost_unit == "relative (B params x kchars)"
    assert ds.costs.shape == (ds.n_prompts, 29) and np.isfinite(ds.costs).all()
    params = ds.metadata["params_b"]
    assert set(params) == set(ds.model_names)
    col = ds.model_names.index("Llama-2-7b-hf")
    # mean output 311.4 chars (models.csv) x 6.7B
    assert ds.costs[:, col].mean() == pytest.approx(6.7 * 0.3114, rel=0.02)


def test_mmlu_pro_prompt_has_lettered_options(load):
    ds = load("mmlu-pro")
    first = ds.prompts[0]
    assert "\nA. " in first and "\nB. " in first
    assert ds.prompt_ids[0] == "70"  # sorted by question_id


def test_mmlu_pro_openllm_is_a_separate_pool(load):
    ds, cot = load("mmlu-pro-openllm"), load("mmlu-pro")
    assert ds.n_models == 18 and not set(ds.model_names) & set(cot.model_names)
    assert ds.costs.shape == (18,) and ds.cost_unit == "relative (B params)"
    assert np.array_equal(ds.prompt_ids, cot.prompt_ids)
    acc = np.nanmean(ds.scores, axis=0)
    assert acc.min() == pytest.approx(0.135, abs=0.005)
    assert acc.max() == pytest.approx(0.568, abs=0.005)


def test_mmlu_pro_random_split_is_deterministic(load):
    ds = load("mmlu-pro")
    fracs = {"train": 0.6, "val": 0.1, "test": 0.3}
    a, b = ds.random_split(fracs, seed=3), ds.random_split(fracs, seed=3)
    c = ds.random_split(fracs, seed=4)
    for key in fracs:
        assert np.array_equal(a.splits[key], b.splits[key])
    assert not np.array_equal(a.splits["test"], c.splits["test"])
    assert sum(len(v) for v in a.splits.values()) == ds.n_prompts
    assert len(a.splits["train"]) == pytest.approx(0.6 * ds.n_prompts, abs=CATEGORIES)


def test_mmlu_pro_missing_directory_names_path(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"mmlu_pro/questions\.jsonl\.gz"):
        load_dataset("mmlu-pro", data_dir=tmp_path)
