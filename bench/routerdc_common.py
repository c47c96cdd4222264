"""Shared pieces of the RouterDC benchmark scripts: data, embeddings, the accuracy convention.

Accuracy convention (``data/README.md``): per task, the mean of ``scores`` of the chosen LLM
(multiple choice: 1 if the chosen LLM's top option is right; generative: its pass rate); the ID
average is the mean over the 5 in-distribution tasks, the OOD average over the 3 others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from polyroute.data import RoutingDataset, load_dataset
from polyroute.encoders import embed_dataset, make_encoder

ID_TASKS = ("mmlu", "gsm8k", "cmmlu", "arc_challenge", "humaneval")
OOD_TASKS = ("math_prealgebra", "mbpp", "ceval")
TASK_LABELS = {
    "mmlu": "MMLU",
    "gsm8k": "GSM8K",
    "cmmlu": "CMMLU",
    "arc_challenge": "ARC-C",
    "humaneval": "HumanEval",
    "math_prealgebra": "MATH-PreAlg.",
    "mbpp": "MBPP",
    "ceval": "C-EVAL",
}
PAPER = {"id": 58.54, "ood": 45.85}


def load_benchmark(
    encoder: str = "minilm", *, split: str | None = None
) -> tuple[RoutingDataset, np.ndarray]:
    """The RouterDC dataset and the embeddings of its prompts (through the cache).

    With ``split``, only that split's rows are embedded (the other rows of X are NaN).
    """
    ds = load_dataset("routerdc")
    if split is None:
        X = embed_dataset(ds, make_encoder(encoder), show_progress=True)
        return ds, np.asarray(X, dtype=np.float32)
    rows = ds.splits[split]
    X = np.full((ds.n_prompts, make_encoder(encoder).dim), np.nan, dtype=np.float32)
    X[rows] = embed_dataset(ds.subset(rows), make_encoder(encoder), show_progress=True)
    return ds, X


def task_accuracy(choice: np.ndarray, scores: np.ndarray, tasks: np.ndarray) -> dict[str, float]:
    """Per-task accuracy (%) of the chosen LLM per row."""
    got = scores[np.arange(len(choice)), choice]
    return {t: float(100 * got[tasks == t].mean()) for t in dict.fromkeys(tasks.tolist())}


def summarise(acc: dict[str, float]) -> dict[str, float]:
    """ID and OOD averages of a per-task accuracy dict."""
    return {
        "id": float(np.mean([acc[t] for t in ID_TASKS])),
        "ood": float(np.mean([acc[t] for t in OOD_TASKS])),
    }


def evaluate_choices(
    ds: RoutingDataset, choose: Callable[[np.ndarray], np.ndarray], X: np.ndarray
) -> dict[str, float]:
    """Per-task accuracy on the test and OOD splits for a function rows -> chosen LLM index."""
    rows = np.concatenate([ds.splits["test"], ds.splits["ood"]])
    return task_accuracy(choose(rows), ds.scores[rows], ds.tasks[rows])


def reference_points(ds: RoutingDataset) -> dict[str, dict[str, float]]:
    """Best single LLM (by test ID average, as in the paper), per-task oracle and per-query oracle on test labels."""
    rows = np.concatenate([ds.splits["test"], ds.splits["ood"]])
    Y, tasks = ds.scores[rows], ds.tasks[rows]
    # the paper's "best single LLM": the highest ID-average on the test sets
    id_avg = [np.mean([Y[tasks == t, m].mean() for t in ID_TASKS]) for m in range(ds.n_models)]
    best = int(np.argmax(id_avg))
    single = task_accuracy(np.full(len(rows), best), Y, tasks)
    per_task = np.zeros(len(rows), dtype=int)
    for t in np.unique(tasks):
        m = tasks == t
        per_task[m] = int(np.argmax(Y[m].mean(0)))
    return {
        "best_single": {**single, "model": ds.model_names[best]},
        "task_oracle": task_accuracy(per_task, Y, tasks),
        "query_oracle": task_accuracy(Y.argmax(1), Y, tasks),
    }


def cv_folds(tasks: np.ndarray, n_folds: int, seed: int) -> list[np.ndarray]:
    """Task-stratified folds of the training rows (indices into the given array)."""
    rng = np.random.default_rng(seed)
    folds: list[list[int]] = [[] for _ in range(n_folds)]
    for t in np.unique(tasks):
        rows = rng.permutation(np.flatnonzero(tasks == t))
        for k, part in enumerate(np.array_split(rows, n_folds)):
            folds[k].extend(part.tolist())
    return [np.sort(np.asarray(f)) for f in folds]


def fmt(values: Sequence[float]) -> str:
    arr = np.asarray(values, dtype=float)
    return f"{arr.mean():.2f} ± {arr.std():.2f}" if len(arr) > 1 else f"{arr.mean():.2f}"


def mean_dict(dicts: Sequence[dict[str, float]]) -> dict[str, Any]:
    keys = dicts[0].keys()
    return {k: float(np.mean([d[k] for d in dicts])) for k in keys}
