from __future__ import annotations

import numpy as np
import pytest

from polyroute.data import load_dataset, load_routerbench_responses
from polyroute.exceptions import DataError, DataNotFoundError


def test_routerbench_shape_models_tasks_and_splits(load):
    ds = load("routerbench")
    assert ds.n_models == 11 and "gpt-4-1106-preview" in ds.model_names
    assert ds.cost_unit == "usd"
    assert ds.costs.shape == (ds.n_prompts, 11)
    # 3 tasks; ARC-C 1039 + 445 rows minus 14 rows merged into their other half
    counts = {t: int((ds.tasks == t).sum()) for t in ds.task_names}
    assert counts == {"arc_challenge": 1039 + 445 - 14, "mbpp": 299 + 128, "winogrande": 887 + 380}
    assert len(ds.splits["train"]) == 1039 - 7 - 6 + 299 + 887
    assert len(ds.splits["test"]) == 445 - 1 + 128 + 380


def test_routerbench_splits_are_disjoint_and_overlap_removed_from_train(load):
    ds = load("routerbench")
    train, test = set(ds.prompt_ids[ds.splits["train"]]), set(ds.prompt_ids[ds.splits["test"]])
    assert not train & test
    dropped = ds.metadata["dropped_from_train"]
    assert len(dropped) == 6 and set(dropped) <= test
    assert len(train | test) == ds.n_prompts


def test_routerbench_merged_rows_are_complete_binary_scores(load):
    ds = load("routerbench")
    assert not np.isnan(ds.scores).any()  # the half rows held the missing cells
    assert set(np.unique(ds.scores)) == {0.0, 1.0}
    # a query split over train (10 models) and test (gpt-3.5 only) is one complete test row
    row = int(np.flatnonzero(ds.prompt_ids == "arc-challenge.val.137")[0])
    assert row in set(ds.splits["test"])
    gpt35 = ds.model_names.index("gpt-3.5-turbo-1106")
    assert ds.scores[row, gpt35] == 0.0 and ds.scores[row].sum() == 1.0  # only GPT-4 right


def test_routerbench_costs_match_source_means(load):
    ds = load("routerbench")
    for task, mean in (("arc_challenge", 0.00145), ("mbpp", 0.00194), ("winogrande", 0.00101)):
        assert ds.costs[ds.tasks == task].mean() == pytest.approx(mean, rel=0.02)
    costs = dict(zip(ds.model_names, ds.model_costs(), strict=True))
    assert (
        costs["gpt-4-1106-preview"]
        > costs["gpt-3.5-turbo-1106"]
        > costs["mistralai/mistral-7b-chat"]
    )


def test_routerbench_prompts_are_parsed_message_text(load):
    ds = load("routerbench")
    assert not any(p.startswith("['") for p in ds.prompts)
    mbpp = ds.prompts[int(np.flatnonzero(ds.prompt_ids == "mbpp.dev.1")[0])]
    assert mbpp == "Write a python function to identify non-prime numbers."


def test_routerbench_responses_accessor(load, data_dir):
    ds = load("routerbench")
    answers = load_routerbench_responses(data_dir, models=["gpt-4-1106-preview"])
    assert set(answers) == {(pid, "gpt-4-1106-preview") for pid in ds.prompt_ids}
    assert "def " in answers[("mbpp.dev.1", "gpt-4-1106-preview")]
    assert callable(ds.metadata["responses"])


def test_routerbench_responses_unknown_model(data_dir):
    with pytest.raises(DataError, match="no model.*'gpt-5'"):
        load_routerbench_responses(data_dir, models=["gpt-5"])


def test_routerbench_missing_file_names_path(tmp_path):
    (tmp_path / "routerdc" / "routerbench_zs").mkdir(parents=True)
    with pytest.raises(DataNotFoundError, match="arc_challenge_train.csv"):
        load_dataset("routerbench", data_dir=tmp_path)


def test_routerbench_few_shot_prefix_is_split_off(load):
    ds = load("routerbench")
    prefixes = ds.metadata["shared_prefix"]
    assert set(prefixes) == {"arc_challenge", "winogrande"}  # MBPP prompts are single questions
    assert len(prefixes["arc_challenge"]) > 1000 and prefixes["arc_challenge"].endswith("\n\n")
    arc = ds.prompts[ds.tasks == "arc_challenge"]
    # what is left differs from the first characters on, so an encoder sees the question
    assert len({p[:40] for p in arc}) > 0.95 * len(arc)
    row = int(np.flatnonzero(ds.prompt_ids == "arc-challenge.test.1108")[0])
    assert ds.prompts[row].startswith("Research is being conducted on using energy from the Sun")
    assert ds.prompts[row].endswith('"D" without explanation.\nAnswer:')
    assert prefixes["arc_challenge"].startswith("George wants to warm his hands quickly")
