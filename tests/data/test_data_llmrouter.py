from __future__ import annotations

import numpy as np
import pytest

from polyroute.data import load_dataset
from polyroute.exceptions import DataNotFoundError


def test_llmrouter_shape_and_overlap_removed(load):
    ds = load("llmrouter")
    assert ds.n_models == 9 and "qwen2.5-7b-instruct" in ds.model_names
    assert ds.metadata["dropped_from_train"] == 119
    assert len(ds.splits["train"]) == 5608 - 119 and len(ds.splits["test"]) == 500
    train = set(ds.prompts[ds.splits["train"]])
    test = set(ds.prompts[ds.splits["test"]])
    assert not train & test


def test_llmrouter_tasks_joined(load):
    ds = load("llmrouter")
    assert len(ds.task_names) == 14
    test = ds.split("test")
    assert {t: int((test.tasks == t).sum()) for t in test.task_names} == dict.fromkeys(
        [
            "agentverse-logicgrid",
            "agentverse-mgsm",
            "commongen",
            "natural_qa",
            "trivia_qa",
            "mmlu",
            "gpqa",
            "mbpp",
            "human_eval",
            "gsm8k",
        ],
        50,
    )


def test_llmrouter_costs_use_candidate_prices(load):
    ds = load("llmrouter")
    assert ds.cost_unit == "usd" and ds.costs.shape == (ds.n_prompts, 9)
    costs = dict(zip(ds.model_names, ds.model_costs(), strict=True))
    # $0.90 vs $0.20 vs $0.10 per million tokens (in = out), same token estimate
    assert costs["llama-3.3-nemotron-super-49b-v1"] / costs["qwen2.5-7b-instruct"] == pytest.approx(
        4.5
    )
    assert costs["gemma-2-9b-it"] / costs["qwen2.5-7b-instruct"] == pytest.approx(0.5)
    assert ((ds.scores >= 0) & (ds.scores <= 1)).all() and not np.isnan(ds.scores).any()


def test_llmrouter_missing_file_names_path(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"llmrouter_ulab/dcrouter_train\.json\.gz"):
        load_dataset("llmrouter", data_dir=tmp_path)
