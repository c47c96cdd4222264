"""Loader error paths on small synthetic copies of the source layouts (no real data needed)."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from polyroute.data import load_dataset, load_routerbench_responses
from polyroute.exceptions import DataError

RB_MODELS = [
    "WizardLM/WizardLM-13B-V1.2",
    "claude-instant-v1",
    "claude-v1",
    "claude-v2",
    "gpt-3.5-turbo-1106",
    "gpt-4-1106-preview",
    "meta/code-llama-instruct-34b-chat",
    "meta/llama-2-70b-chat",
    "mistralai/mistral-7b-chat",
    "mistralai/mixtral-8x7b-chat",
    "zero-one-ai/Yi-34B-Chat",
]
RB_STEMS = ["arc_challenge", "mbpp", "winograde"]


def _rb_row(sid: str, prompt: str, score=1.0, only=None):
    row = {"sample_id": sid, "prompt": prompt, "eval_name": "x"}
    for m in RB_MODELS:
        row[m] = score if only is None or m in only else None
        row[m + "|model_response"] = str([f"answer of {m}"])
        row[m + "|total_cost"] = 0.001
    return row


def _write_routerbench(root, rows_by_file):
    folder = root / "routerdc" / "routerbench_zs"
    folder.mkdir(parents=True)
    for stem in RB_STEMS:
        for split in ("train", "test"):
            rows = rows_by_file.get(f"{stem}_{split}", [_rb_row(f"{stem}.{split}.0", "['hi']")])
            pd.DataFrame(rows).to_csv(folder / f"{stem}_{split}.csv")


def test_routerbench_merges_halves_and_keeps_test(tmp_path):
    gpt35 = ["gpt-3.5-turbo-1106"]
    others = [m for m in RB_MODELS if m not in gpt35]
    _write_routerbench(
        tmp_path,
        {
            "arc_challenge_train": [
                _rb_row("a.1", "['q', 'q']", 1.0, only=gpt35),
                _rb_row("a.2", "['other']"),
            ],
            "arc_challenge_test": [_rb_row("a.1", "['q']", 0.0, only=others)],
        },
    )
    ds = load_dataset("routerbench", data_dir=tmp_path)
    row = list(ds.prompt_ids).index("a.1")
    assert ds.prompts[row] == "q" and row in set(ds.splits["test"])
    assert ds.scores[row, RB_MODELS.index("gpt-3.5-turbo-1106")] == 1.0
    assert ds.scores[row].sum() == 1.0
    assert ds.metadata["dropped_from_train"] == ["a.1"]
    answers = load_routerbench_responses(tmp_path, models=gpt35)
    assert answers[("a.1", "gpt-3.5-turbo-1106")] == "answer of gpt-3.5-turbo-1106"


def test_routerbench_conflicting_halves_rejected(tmp_path):
    _write_routerbench(tmp_path, {"mbpp_train": [_rb_row("m.1", "['a']"), _rb_row("m.1", "['b']")]})
    with pytest.raises(DataError, match="sample_id 'm.1' has two scores for model"):
        load_dataset("routerbench", data_dir=tmp_path)


def test_routerbench_bad_prompt_names_file_and_id(tmp_path):
    _write_routerbench(tmp_path, {"mbpp_test": [_rb_row("m.9", "['unterminated")]})
    with pytest.raises(
        DataError,
        match=r"mbpp_test\.csv: sample_id 'm\.9': expected a Python "
        r"list of strings",
    ):
        load_dataset("routerbench", data_dir=tmp_path)


def test_routerbench_prompt_must_be_list_of_strings(tmp_path):
    _write_routerbench(tmp_path, {"mbpp_test": [_rb_row("m.9", "[1, 2]")]})
    with pytest.raises(DataError, match="expected a list of strings; found list"):
        load_dataset("routerbench", data_dir=tmp_path)


def test_routerbench_missing_model_column(tmp_path):
    _write_routerbench(tmp_path, {})
    path = tmp_path / "routerdc" / "routerbench_zs" / "mbpp_test.csv"
    pd.read_csv(path).drop(columns=["claude-v2"]).to_csv(path, index=False)
    with pytest.raises(DataError, match=r"mbpp_test\.csv: expected RouterBench columns"):
        load_dataset("routerbench", data_dir=tmp_path)


def _write_mmlu_pro(root, models, *, bad_line=False):
    folder = root / "mmlu_pro"
    folder.mkdir(parents=True)
    recs = [
        {
            "question_id": i,
            "question": f"q{i}",
            "options": ["x", "y"],
            "category": "math",
            "version_conflict": i == 3,
        }
        for i in range(4)
    ]
    lines = [json.dumps(r) for r in recs] + (["{broken"] if bad_line else [])
    with gzip.open(folder / "questions.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    frame = pd.DataFrame({"question_id": range(4), **{m: [1, 0, 1, 1] for m in models}})
    frame.to_csv(folder / "correct.csv.gz", index=False)
    frame.assign(**{m: [100, None, 300, 999] for m in models}).to_csv(
        folder / "output_chars.csv.gz", index=False
    )


def test_mmlu_pro_synthetic_costs_and_conflict_drop(tmp_path):
    _write_mmlu_pro(tmp_path, ["Llama-2-7b-hf", "Yi-34B"])
    ds = load_dataset("mmlu-pro", data_dir=tmp_path)
    assert list(ds.prompt_ids) == ["0", "1", "2"] and ds.prompts[0] == "q0\nA. x\nB. y"
    # missing output length -> the model's mean over kept questions (200 chars)
    assert ds.costs[:, 0].tolist() == pytest.approx([6.7 * 0.1, 6.7 * 0.2, 6.7 * 0.3])


def test_mmlu_pro_unknown_model_size(tmp_path):
    _write_mmlu_pro(tmp_path, ["Llama-2-7b-hf", "my-new-model"])
    with pytest.raises(
        DataError,
        match=r"no parameter count known for model\(s\) "
        r"\['my-new-model'\]",
    ):
        load_dataset("mmlu-pro", data_dir=tmp_path)


def test_mmlu_pro_malformed_questions_line(tmp_path):
    _write_mmlu_pro(tmp_path, ["Yi-34B"], bad_line=True)
    with pytest.raises(DataError, match=r"questions\.jsonl\.gz: line 5: expected a JSON record"):
        load_dataset("mmlu-pro", data_dir=tmp_path)
