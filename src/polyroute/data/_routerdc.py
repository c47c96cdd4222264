"""RouterDC benchmark (arXiv 2409.19886): ``routerdc/split2_model7*``.

Splits exactly as the paper: ``train`` = the five ``split2_model7_cluster/*_train.json`` files,
``test`` = the in-distribution test files, ``ood`` = MATH-PreAlgebra, MBPP and C-EVAL.
``scores`` follow the accuracy convention of ``data/README.md``: a multiple-choice query
(MMLU, CMMLU, ARC-C, C-EVAL) is 1 when the model's score is > 0 (the model's top option is the right
one), generative tasks keep the fractional pass rate, MATH is 0/1. ``soft_scores`` keep the raw
values (probability of the correct option for multiple choice). ``cluster_id`` of the training
rows (the paper's 5 query clusters) is kept in ``metadata["cluster_id"]`` (-1 outside train).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import read_json
from polyroute.exceptions import DataError

MULTIPLE_CHOICE = frozenset({"mmlu", "cmmlu", "arc_challenge", "ceval"})

# (split, task, relative path)
_FILES: tuple[tuple[str, str, str], ...] = (
    ("train", "mmlu", "split2_model7_cluster/mmlu_train.json"),
    ("train", "gsm8k", "split2_model7_cluster/gsm8k-train.json"),
    ("train", "cmmlu", "split2_model7_cluster/cmmlu_train.json"),
    ("train", "arc_challenge", "split2_model7_cluster/arc_challenge_train.json"),
    ("train", "humaneval", "split2_model7_cluster/humaneval_train.json"),
    ("test", "mmlu", "split2_model7/mmlu_test.json"),
    ("test", "gsm8k", "split2_model7/gsm8k-test.json"),
    ("test", "cmmlu", "split2_model7/cmmlu_test.json"),
    ("test", "arc_challenge", "split2_model7/arc_challenge_test.json"),
    ("test", "humaneval", "split2_model7/humaneval_test.json"),
    ("ood", "math_prealgebra", "split2_model7/MATH_prealgebra.json"),
    ("ood", "mbpp", "split2_model7/mbpp.json"),
    ("ood", "ceval", "split2_model7/ceval.json"),
)

ID_TASKS = ("mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval")
OOD_TASKS = ("math_prealgebra", "mbpp", "ceval")


def load_routerdc(data_dir: Path) -> RoutingDataset:
    root = data_dir / "routerdc"
    ids: list[str] = []
    prompts: list[str] = []
    tasks: list[str] = []
    raw: list[list[float]] = []
    clusters: list[int] = []
    splits: dict[str, list[int]] = {"train": [], "test": [], "ood": []}
    models: list[str] | None = None
    for split, task, rel in _FILES:
        path = root / rel
        records = read_json(path)
        if not isinstance(records, list):
            raise DataError(
                f"{path}: expected a JSON list of records; found {type(records).__name__}"
            )
        for i, rec in enumerate(records):
            try:
                question, scores = rec["question"], rec["scores"]
            except (KeyError, TypeError) as exc:
                raise DataError(f"{path}: record {i} lacks 'question'/'scores'") from exc
            if models is None:
                models = list(scores)
            if list(scores) != models:
                raise DataError(f"{path}: record {i} has models {list(scores)}; expected {models}")
            splits[split].append(len(ids))
            ids.append(f"{split}/{task}/{i}")
            prompts.append(question)
            tasks.append(task)
            raw.append([float(scores[m]) for m in models])
            clusters.append(int(rec.get("cluster_id", -1)))
    assert models is not None
    soft = np.asarray(raw, dtype=np.float64)
    is_mc = np.isin(np.asarray(tasks), list(MULTIPLE_CHOICE))
    scores = np.where(is_mc[:, None], (soft > 0).astype(np.float64), soft)
    return RoutingDataset(
        name="routerdc",
        prompt_ids=np.asarray(ids),
        prompts=np.asarray(prompts, dtype=object),
        tasks=np.asarray(tasks, dtype=object),
        model_names=tuple(models),
        scores=scores,
        soft_scores=soft,
        splits={k: np.asarray(v) for k, v in splits.items()},
        metadata={
            "source": str(root),
            "cluster_id": np.asarray(clusters),
            "id_tasks": ID_TASKS,
            "ood_tasks": OOD_TASKS,
            "convention": "multiple choice: score > 0 counts as solved; generative: pass rate",
        },
    )
