"""LLMRouter (ulab-uiuc/LLMRouter) routing data: 9 hosted 7B-70B LLMs on 14 tasks: ``llmrouter_ulab/``.

* ``scores``: the repo's RouterDC-format files ``dcrouter_{train,test}.json.gz`` (mostly 0/1 exact
  match; F1 or pass rate for a few tasks).
* ``tasks``: joined by question text from ``query_{train,test}.jsonl.gz`` (``task_name``). Six
  questions appear under two tasks (``mmlu`` and ``openbook_qa`` or ``arc_challenge``); the
  specific task (not ``mmlu``) is kept.
* ``costs`` (``cost_unit = "usd"``): per-token prices of ``llm_candidates.json`` (USD per million
  input / output tokens) x estimated tokens: prompt characters / 4 in, an assumed
  :data:`OUTPUT_TOKENS` out. The per-query costs upstream were not available.
* splits ``train`` / ``test`` as upstream, with the 119 questions that also occur in test dropped from
  ``train`` (``metadata["dropped_from_train"]`` counts them).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import read_json, require_file
from polyroute.exceptions import DataError

CHARS_PER_TOKEN = 4.0
OUTPUT_TOKENS = 200


def _records(path: Path) -> list[dict[str, Any]]:
    try:
        with gzip.open(require_file(path), "rt", encoding="utf-8") as handle:
            records = json.load(handle)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if (
        not isinstance(records, list)
        or not records
        or not all(
            isinstance(r, dict) and "question" in r and isinstance(r.get("scores"), dict)
            for r in records
        )
    ):
        raise DataError(f"{path}: expected a non-empty JSON list of {{question, scores}} records")
    return records


def _task_lookup(path: Path) -> dict[str, str]:
    tasks: dict[str, set[str]] = {}
    with gzip.open(require_file(path), "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                tasks.setdefault(str(rec["query"]), set()).add(str(rec["task_name"]))
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DataError(
                    f"{path}: line {lineno}: expected a JSON record with query and "
                    f"task_name ({exc})"
                ) from exc
    # A question under two tasks is an ARC / OpenBookQA item reused in the MMLU bucket: keep the
    # specific task.
    return {q: min(t - {"mmlu"} or t) for q, t in tasks.items()}


def _prices(path: Path, models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    table = read_json(path)
    missing = [m for m in models if m not in table]
    if missing:
        raise DataError(f"{path}: no price for model(s) {missing}")
    try:
        inp = np.array([float(table[m]["input_price"]) for m in models]) / 1e6
        out = np.array([float(table[m]["output_price"]) for m in models]) / 1e6
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: expected input_price/output_price per model ({exc})") from exc
    return inp, out


def load_llmrouter(data_dir: Path) -> RoutingDataset:
    """LLMRouter dcrouter data: 9 LLMs, train (overlap with test removed) / test."""
    root = data_dir / "llmrouter_ulab"
    train, test = (_records(root / f"dcrouter_{s}.json.gz") for s in ("train", "test"))
    test_questions = {r["question"] for r in test}
    kept_train = [r for r in train if r["question"] not in test_questions]
    lookups = {s: _task_lookup(root / f"query_{s}.jsonl.gz") for s in ("train", "test")}
    models = list(train[0]["scores"])
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for split, records in (("train", kept_train), ("test", test)):
        other = lookups["test" if split == "train" else "train"]
        for i, rec in enumerate(records):
            if set(rec["scores"]) != set(models):  # key order varies between records
                raise DataError(
                    f"{root}: {split} record {i} has models "
                    f"{sorted(rec['scores'])}; expected {sorted(models)}"
                )
            rows.append((split, f"{split}/{i}", rec))
        missing = [
            r["question"][:40]
            for r in records
            if r["question"] not in lookups[split] and r["question"] not in other
        ]
        if missing:
            raise DataError(
                f"{root}: {len(missing)} {split} questions have no task in "
                f"query_*.jsonl.gz (e.g. {missing[0]!r})"
            )
    tasks = [
        lookups[s].get(r["question"])
        or lookups["train"].get(r["question"])
        or lookups["test"][r["question"]]
        for s, _, r in rows
    ]
    prompts = [r["question"] for _, _, r in rows]
    in_price, out_price = _prices(root / "llm_candidates.json", models)
    prompt_tokens = np.array([len(p) for p in prompts], dtype=np.float64) / CHARS_PER_TOKEN
    costs = prompt_tokens[:, None] * in_price[None, :] + OUTPUT_TOKENS * out_price[None, :]
    is_test = np.array([s == "test" for s, _, _ in rows])
    return RoutingDataset(
        name="llmrouter",
        prompt_ids=np.asarray([pid for _, pid, _ in rows]),
        prompts=np.asarray(prompts, dtype=object),
        tasks=np.asarray(tasks, dtype=object),
        model_names=tuple(models),
        scores=np.array([[float(r["scores"][m]) for m in models] for _, _, r in rows]),
        costs=costs,
        cost_unit="usd",
        splits={"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)},
        metadata={
            "source": str(root),
            "dropped_from_train": len(train) - len(kept_train),
            "cluster_id": np.array([int(r.get("cluster_id", -1)) for _, _, r in rows]),
            "cost_model": f"llm_candidates.json USD/M-token prices x (prompt chars/4 input + "
            f"{OUTPUT_TOKENS} output tokens)",
        },
    )
