"""RouteLLM's strong/weak evaluation sets (lm-sys/RouteLLM, arXiv 2406.18665): ``routellm/``.

Two models: ``gpt-4-1106-preview`` (strong) and ``mistralai/Mixtral-8x7B-Instruct-v0.1`` (weak).

* ``routellm-mmlu``: 14,042 MMLU questions (57 subjects = tasks), correctness True/False -> 1/0.
* ``routellm-gsm8k``: 1,319 GSM8K test questions, True/False -> 1/0, task ``"gsm8k"``.
* ``routellm-mtbench``: the 80 MT-Bench questions; score = mean of the GPT-4 judge's 1-10 grades of
  the two turns / 10; task = MT-Bench category. The prompt is the first turn.

Costs (``cost_unit = "usd"``), the RouteLLM paper's own assumption of one blended price per token:
GPT-4 $24.7 and Mixtral-8x7B $0.24 per million tokens. Tokens are estimated as characters / 4:
``cost = price x (prompt tokens + output tokens)``, output tokens = the model's recorded answer
length / 4 for GSM8K, an assumed :data:`MMLU_OUTPUT_TOKENS` for MMLU (a letter and a short
justification) and :data:`MTBENCH_OUTPUT_TOKENS` per turn for MT-Bench (two turns; the second
prompt resends the first turn and answer).

There is no train/test split upstream (RouteLLM trains on Chatbot Arena data and only evaluates on
these); ``metadata["contaminated"]`` lists the prompt ids RouteLLM flagged as overlapping its router
training data (GSM8K 12, MT-Bench 8), to be excluded when evaluating RouteLLM's released routers.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import require_file
from polyroute.data._pandas import import_pandas
from polyroute.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

STRONG = "gpt-4-1106-preview"
WEAK = "mistralai/Mixtral-8x7B-Instruct-v0.1"
MODELS: tuple[str, ...] = (STRONG, WEAK)
# USD per token (RouteLLM paper: $24.7 / $0.24 per million tokens, input and output blended)
PRICE_PER_TOKEN: dict[str, float] = {STRONG: 24.7e-6, WEAK: 0.24e-6}
CHARS_PER_TOKEN = 4.0
MMLU_OUTPUT_TOKENS = 16
MTBENCH_OUTPUT_TOKENS = 400


def _tokens(texts: pd.Series | np.ndarray) -> np.ndarray:
    pd = import_pandas()
    return np.asarray(pd.Series(texts).fillna("").str.len(), dtype=np.float64) / CHARS_PER_TOKEN


def _prices() -> np.ndarray:
    return np.array([PRICE_PER_TOKEN[m] for m in MODELS])


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    pd = import_pandas()
    require_file(path)
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: malformed CSV ({exc})") from exc
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: expected columns {columns}; missing {missing}")
    return frame


def _correct(frame: pd.DataFrame, path: Path) -> np.ndarray:
    pd = import_pandas()
    values = frame[list(MODELS)]
    if not all(pd.api.types.is_bool_dtype(values[c]) for c in MODELS):
        raise DataError(
            f"{path}: expected True/False correctness columns {list(MODELS)}; "
            f"found dtypes {[str(values[c].dtype) for c in MODELS]}"
        )
    return np.asarray(values.to_numpy(np.float64), dtype=np.float64)


def _iter_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with gzip.open(require_file(path), "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}: line {lineno}: not valid JSON ({exc.msg})") from exc


def _metadata(root: Path, cost_model: str, contaminated: list[str]) -> dict[str, Any]:
    return {
        "source": str(root),
        "strong_model": STRONG,
        "weak_model": WEAK,
        "price_usd_per_token": dict(PRICE_PER_TOKEN),
        "cost_model": cost_model,
        "contaminated": contaminated,
    }


def load_routellm_mmlu(data_dir: Path) -> RoutingDataset:
    """RouteLLM MMLU: 14,042 questions, 57 subjects, 2 models."""
    root = data_dir / "routellm"
    path = root / "mmlu.csv.gz"
    frame = _read_csv(path, ["subject", "prompt", *MODELS])
    position = frame.groupby("subject", sort=False).cumcount().to_numpy()
    ids = [f"{s}/{i}" for s, i in zip(frame["subject"], position, strict=True)]
    tokens = _tokens(frame["prompt"])[:, None] + MMLU_OUTPUT_TOKENS
    return RoutingDataset(
        name="routellm-mmlu",
        prompt_ids=np.asarray(ids),
        prompts=frame["prompt"].to_numpy(object),
        tasks=frame["subject"].to_numpy(object),
        model_names=MODELS,
        scores=_correct(frame, path),
        costs=tokens * _prices()[None, :],
        cost_unit="usd",
        metadata=_metadata(
            root, f"price x (prompt chars/4 + {MMLU_OUTPUT_TOKENS} output tokens)", []
        ),
    )


def _contaminated(path: Path, prompts: list[str], ids: list[str]) -> list[str]:
    lookup = dict(zip(prompts, ids, strict=True))
    out = []
    for rec in _iter_jsonl(path):
        prompt = str(rec.get("eval_prompt", ""))
        if prompt in lookup:
            out.append(lookup[prompt])
        elif prompt.strip() in lookup:
            out.append(lookup[prompt.strip()])
    return sorted(set(out), key=ids.index)


def load_routellm_gsm8k(data_dir: Path) -> RoutingDataset:
    """RouteLLM GSM8K: 1,319 test questions, 2 models, costs from recorded answer lengths."""
    root = data_dir / "routellm"
    path = root / "gsm8k_responses.csv.gz"
    responses = [f"{m}_response" for m in MODELS]
    frame = _read_csv(path, ["prompt", *MODELS, *responses])
    ids = [f"gsm8k/{i}" for i in range(len(frame))]
    tokens = _tokens(frame["prompt"])[:, None] + np.column_stack(
        [_tokens(frame[r]) for r in responses]
    )
    prompts = frame["prompt"].tolist()
    return RoutingDataset(
        name="routellm-gsm8k",
        prompt_ids=np.asarray(ids),
        prompts=np.asarray(prompts, dtype=object),
        tasks=np.full(len(frame), "gsm8k", dtype=object),
        model_names=MODELS,
        scores=_correct(frame, path),
        costs=tokens * _prices()[None, :],
        cost_unit="usd",
        metadata=_metadata(
            root,
            "price x (prompt chars/4 + recorded answer chars/4)",
            _contaminated(root / "gsm8k_contaminated_prompts.jsonl.gz", prompts, ids),
        ),
    )


def load_routellm_mtbench(data_dir: Path) -> RoutingDataset:
    """RouteLLM MT-Bench: 80 questions, 2 models, mean GPT-4 grade of both turns / 10."""
    root = data_dir / "routellm"
    questions = list(_iter_jsonl(root / "mt_bench_questions.jsonl.gz"))
    grades: dict[tuple[str, str], list[float]] = {}
    path = root / "mt_bench_judgements.jsonl.gz"
    try:
        for rec in _iter_jsonl(path):
            grades.setdefault((str(rec["question_id"]), str(rec["model"])), []).append(
                float(rec["score"])
            )
        ids = [str(q["question_id"]) for q in questions]
        turns = [[str(t) for t in q["turns"]] for q in questions]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"{root}: expected MT-Bench records with question_id, model, score "
            f"(judgements) and question_id, turns (questions); {exc!r}"
        ) from exc
    scores = np.full((len(ids), len(MODELS)), np.nan)
    for i, qid in enumerate(ids):
        for j, model in enumerate(MODELS):
            if (qid, model) in grades:
                scores[i, j] = np.mean(grades[(qid, model)]) / 10.0
    prompts = [t[0] for t in turns]
    # turn 1: its prompt + answer; turn 2: turn 1 again, its answer, the second prompt + answer
    tokens = np.array(
        [
            (2 * len(t[0]) + sum(len(x) for x in t[1:])) / CHARS_PER_TOKEN
            + (len(t) + 1) * MTBENCH_OUTPUT_TOKENS
            for t in turns
        ]
    )
    return RoutingDataset(
        name="routellm-mtbench",
        prompt_ids=np.asarray(ids),
        prompts=np.asarray(prompts, dtype=object),
        tasks=np.asarray([str(q.get("category", "mt_bench")) for q in questions], dtype=object),
        model_names=MODELS,
        scores=scores,
        costs=tokens[:, None] * _prices()[None, :],
        cost_unit="usd",
        metadata=_metadata(
            root,
            f"price x (two turns' prompt chars/4 + {MTBENCH_OUTPUT_TOKENS} "
            "output tokens per answer, the first answer resent in turn 2)",
            _contaminated(root / "mt_bench_contaminated_prompts.jsonl.gz", prompts, ids),
        ),
    )
