"""Validation sets with reference answers, built from the named routing datasets.

A ``RoutingDataset`` holds prompts and per-model scores but no gold answers; grading a *new* model
needs them. Sources:

* ``mmlu-pro`` / ``mmlu-pro-openllm``: the answer letter of ``mmlu_pro/questions.jsonl.gz``
  (grader ``"choice"``).
* ``routerbench``: ARC-Challenge and Winogrande only; the reference is the letter given by the
  recorded responses that RouterBench scored correct (majority; prompts no model got right are
  skipped). MBPP needs code execution to grade and is left out.
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np

from polyroute.config import resolve_data_dir
from polyroute.data import RoutingDataset, load_dataset
from polyroute.exceptions import DataError
from polyroute.onboarding._graders import extract_choice
from polyroute.onboarding._outcomes import ValidationItem

#: File name of a router directory's own validation set (what ``polyroute onboard`` uses by
#: default).
VALIDATION_FILE = "validation.jsonl.gz"


def _mmlu_pro_answers(root: Path) -> dict[str, str]:
    path = root / "mmlu_pro" / "questions.jsonl.gz"
    answers: dict[str, str] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                rec = json.loads(line)
                answers[str(rec["question_id"])] = str(rec["answer"])
    return answers


def _routerbench_answers(ds: RoutingDataset) -> dict[str, str]:
    responses = ds.metadata["responses"]()
    answers: dict[str, str] = {}
    for row, pid in enumerate(ds.prompt_ids):
        if ds.tasks[row] not in ("arc_challenge", "winogrande"):
            continue
        votes = Counter(
            letter
            for col, model in enumerate(ds.model_names)
            if ds.scores[row, col] == 1.0
            and (letter := extract_choice(responses.get((pid, model), ""), letters="ABCDE"))
        )
        if votes:
            answers[str(pid)] = votes.most_common(1)[0][0]
    return answers


def dataset_validation_set(
    name: str,
    *,
    split: str | None = None,
    n_prompts: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[ValidationItem]:
    """Validation prompts with reference answers from a named dataset.

    Parameters
    ----------
    name : str
        ``"mmlu-pro"``, ``"mmlu-pro-openllm"`` or ``"routerbench"``.
    split : str, optional
        Only this split's rows (e.g. ``"train"``).
    n_prompts : int, optional
        A seeded random sample of this many prompts (stratified by nothing; all when None).
    seed : int
    data_dir : path, optional

    Returns
    -------
    list of ValidationItem
    """
    ds = load_dataset(name, data_dir=data_dir)
    if name in ("mmlu-pro", "mmlu-pro-openllm"):
        answers = _mmlu_pro_answers(resolve_data_dir(data_dir))
    elif name == "routerbench":
        answers = _routerbench_answers(ds)
    else:
        raise DataError(
            f"dataset {name!r} has no reference answers for grading; expected one of "
            "mmlu-pro, mmlu-pro-openllm, routerbench, or a --validation-file"
        )
    if split is not None and split not in ds.splits:
        ds.split(split)  # raises the DataError listing the splits
    rows = ds.splits[split] if split is not None else np.arange(ds.n_prompts)
    rows = np.array([r for r in rows if str(ds.prompt_ids[r]) in answers], dtype=np.int64)
    if n_prompts is not None and n_prompts < len(rows):
        rows = np.sort(np.random.default_rng(seed).choice(rows, n_prompts, replace=False))
    return [
        ValidationItem(
            str(ds.prompt_ids[r]), str(ds.prompts[r]), answers[str(ds.prompt_ids[r])], "choice"
        )
        for r in rows
    ]
