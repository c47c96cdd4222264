"""MMLU-Pro per-question correctness of many LLMs (TIGER-AI-Lab/MMLU-Pro eval results): ``mmlu_pro/``.

Two datasets, never mixed (their protocols differ):

* ``mmlu-pro``: 29 LLMs, official 5-shot chain-of-thought evaluation, 0/1 (a missing letter counts
  as wrong), NaN where a model's result file has no row for the question.
  Cost of (query, model) = model size in billions of parameters x length of that model's generated
  answer in thousands of characters (``output_chars.csv.gz``; a missing length is replaced by the
  model's mean length). ``cost_unit`` = ``"relative (B params x kchars)"``.
* ``mmlu-pro-openllm``: 18 other LLMs from the Open LLM Leaderboard v2 (5-shot log-likelihood
  multiple choice, no generation), 0/1. Cost = model size in billions (a per-model constant),
  ``cost_unit`` = ``"relative (B params)"``.

The 48 questions whose text, options or key changed between MMLU-Pro revisions
(``version_conflict``) are dropped from both. ``prompts`` = the question followed by the lettered
options (``"A. ..."``, one per line). ``tasks`` = MMLU-Pro category (14). No splits are defined
upstream: use :meth:`RoutingDataset.random_split`.

Model sizes (billions of parameters) and the reasons for each guess are in :data:`PARAMS_B` and
``docs/data.md``. For mixture-of-experts models the *active* parameters per token are used (compute
per generated token, which is what per-token prices follow); for API models whose size is not
public, a price-matched guess is used.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import require_file
from polyroute.data._pandas import import_pandas
from polyroute.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

# Billions of parameters. Open weights: from the model cards. MoE: active parameters per token
# (total in the comment). API-only models: price-matched guesses (see docs/data.md).
PARAMS_B: dict[str, float] = {
    # --- 29-model CoT pool
    "DeepSeek-Coder-V2": 21.0,  # MoE, 236B total / 21B active
    "Llama-2-7b-hf": 6.7,
    "Llama-2-13b-hf": 13.0,
    "Llama-2-70b-hf": 69.0,
    "Meta-Llama-3-8B": 8.0,
    "Meta-Llama-3-70B": 70.6,
    "Meta-Llama-3_1-8B": 8.0,
    "Meta-Llama-3_1-70B": 70.6,
    "Meta-Llama-3_1-8B-Instruct": 8.0,
    "Meta-Llama-3_1-70B-Instruct": 70.6,
    "Mistral-7B-v0.1": 7.2,
    "Mistral-7B-v0.2-hf": 7.2,
    "Mistral-7B-Instruct-v0.1": 7.2,
    "Mistral-7B-Instruct-v0.2": 7.2,
    "Mixtral-8x7B-v0.1": 12.9,  # MoE, 46.7B total / 12.9B active
    "Mixtral-8x7B-Instruct-v0.1": 12.9,
    "Phi-3-mini-4k-instruct": 3.8,
    "Qwen1.5-7B-Chat": 7.7,
    "Qwen1.5-72B-Chat": 72.3,
    "Qwen1.5-110B": 111.0,
    "Yi-6B": 6.1,
    "Yi-6b-Chat": 6.1,
    "Yi-34B": 34.4,
    "c4ai-command-r-v01": 35.0,  # open weights (Cohere Command-R, 35B)
    "gemma-7b": 8.5,
    "mathstral-7B": 7.2,
    "jamba-1.5-large": 94.0,  # hybrid SSM-MoE, 398B total / 94B active (AI21 model card)
    "gemini-1.5-flash-002": 24.0,  # size not public: price-matched guess ($0.30/M output)
    "gemini-1.5-pro-002": 400.0,  # size not public: price-matched guess ($5/M output)
    # --- 18-model Open LLM Leaderboard v2 pool
    "NousResearch/Nous-Hermes-2-Mixtral-8x7B-DPO": 12.9,  # Mixtral MoE, active
    "01-ai/Yi-34B-Chat": 34.4,
    "Qwen/QwQ-32B-Preview": 32.8,
    "Qwen/Qwen2-72B-Instruct": 72.7,
    "Qwen/Qwen2.5-7B-Instruct": 7.6,
    "Qwen/Qwen2.5-72B-Instruct": 72.7,
    "alpindale/WizardLM-2-8x22B": 39.0,  # MoE, 141B total / 39B active
    "deepseek-ai/deepseek-llm-67b-chat": 67.0,
    "google/gemma-2-27b-it": 27.2,
    "google/gemma-2-9b-it": 9.2,
    "google/gemma-2b-it": 2.5,
    "meta-llama/Llama-2-13b-chat-hf": 13.0,
    "meta-llama/Meta-Llama-3.1-70B-Instruct": 70.6,
    "mistralai/Mistral-7B-Instruct-v0.1": 7.2,
    "mistralai/Mistral-7B-Instruct-v0.2": 7.2,
    "mistralai/Mistral-7B-Instruct-v0.3": 7.2,
    "mistralai/Mixtral-8x7B-Instruct-v0.1": 12.9,
    "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF": 70.6,
}

# Model family of the 29-model pool: keep a family on one side of a seen/unseen model split
# (base and instruct variants of one model are near-duplicates).
_FAMILY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("DeepSeek", "deepseek"),
    ("Llama-2", "llama-2"),
    ("Meta-Llama-3_1", "llama-3.1"),
    ("Meta-Llama-3", "llama-3"),
    ("Mistral-7B", "mistral-7b"),
    ("mathstral", "mistral-7b"),
    ("Mixtral", "mixtral"),
    ("Phi-3", "phi-3"),
    ("Qwen1.5", "qwen1.5"),
    ("Yi-", "yi"),
    ("c4ai", "command-r"),
    ("gemini", "gemini-1.5"),
    ("gemma", "gemma"),
    ("jamba", "jamba"),
)

LETTERS = "ABCDEFGHIJ"
COT_COST_UNIT = "relative (B params x kchars)"
OPENLLM_COST_UNIT = "relative (B params)"


def model_family(model: str) -> str:
    """Family of a model name (``"Meta-Llama-3_1-8B-Instruct"`` -> ``"llama-3.1"``), else the
    name itself (the part after the last ``/``, lower-cased)."""
    short = model.rsplit("/", 1)[-1]
    for prefix, family in _FAMILY_PREFIXES:
        if short.startswith(prefix):
            return family
    return short.lower()


def _read_questions(path: Path) -> pd.DataFrame:
    pd = import_pandas()
    rows = []
    with gzip.open(require_file(path), "rt", encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                rows.append(
                    (
                        int(rec["question_id"]),
                        format_question(rec["question"], rec["options"]),
                        str(rec["category"]),
                        bool(rec["version_conflict"]),
                    )
                )
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise DataError(
                    f"{path}: line {lineno}: expected a JSON record with question_id, "
                    f"question, options, category, version_conflict ({exc})"
                ) from exc
    return pd.DataFrame(rows, columns=["question_id", "prompt", "category", "conflict"])


def format_question(question: str, options: list[str]) -> str:
    """The question followed by one ``"A. option"`` line per option (up to 10, ``A``-``J``)."""
    if not isinstance(options, list) or not 0 < len(options) <= len(LETTERS):
        raise ValueError(f"expected 1-10 options; found {options!r:.60}")
    lines = [f"{LETTERS[i]}. {opt}" for i, opt in enumerate(options)]
    return question.strip() + "\n" + "\n".join(lines)


def _read_matrix(path: Path, ids: np.ndarray) -> pd.DataFrame:
    """A question_id-indexed CSV, rows aligned to ``ids`` (every id must be present)."""
    pd = import_pandas()
    require_file(path)
    try:
        frame = pd.read_csv(path, index_col="question_id")
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(f"{path}: expected a CSV with a question_id column ({exc})") from exc
    missing = np.setdiff1d(ids, frame.index.to_numpy())
    if missing.size:
        raise DataError(
            f"{path}: expected a row for every question; {missing.size} missing "
            f"(e.g. question_id {missing[0]})"
        )
    return frame.loc[ids]


def _params(models: list[str], path: Path) -> np.ndarray:
    unknown = [m for m in models if m not in PARAMS_B]
    if unknown:
        raise DataError(
            f"{path}: no parameter count known for model(s) {unknown}; "
            "expected models listed in polyroute.data._mmlu_pro.PARAMS_B"
        )
    return np.array([PARAMS_B[m] for m in models], dtype=np.float64)


def _questions(root: Path) -> tuple[pd.DataFrame, int]:
    questions = _read_questions(root / "questions.jsonl.gz")
    kept = questions[~questions["conflict"]].sort_values("question_id").reset_index(drop=True)
    return kept, int(questions["conflict"].sum())


def _dataset(
    name: str,
    root: Path,
    questions: pd.DataFrame,
    correct: pd.DataFrame,
    costs: np.ndarray,
    cost_unit: str,
    n_dropped: int,
    cost_model: str,
) -> RoutingDataset:
    models = [str(c) for c in correct.columns]
    return RoutingDataset(
        name=name,
        prompt_ids=questions["question_id"].astype(str).to_numpy(str),
        prompts=questions["prompt"].to_numpy(object),
        tasks=questions["category"].to_numpy(object),
        model_names=tuple(models),
        scores=correct.to_numpy(np.float64),
        costs=costs,
        cost_unit=cost_unit,
        metadata={
            "source": str(root),
            "dropped_version_conflicts": n_dropped,
            "params_b": {m: PARAMS_B[m] for m in models},
            "families": {m: model_family(m) for m in models},
            "cost_model": cost_model,
        },
    )


def load_mmlu_pro(data_dir: Path) -> RoutingDataset:
    """29-LLM CoT pool; cost = params (B) x output kchars."""
    root = data_dir / "mmlu_pro"
    questions, n_dropped = _questions(root)
    ids = questions["question_id"].to_numpy()
    correct = _read_matrix(root / "correct.csv.gz", ids)
    chars = _read_matrix(root / "output_chars.csv.gz", ids)
    models = [str(c) for c in correct.columns]
    if [str(c) for c in chars.columns] != models:
        raise DataError(
            f"{root / 'output_chars.csv.gz'}: expected the model columns of "
            f"correct.csv.gz ({len(models)}); found {list(chars.columns)[:3]}..."
        )
    lengths = chars.to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(lengths, axis=0)
    lengths = np.where(np.isnan(lengths), means[None, :], lengths)
    costs = _params(models, root / "correct.csv.gz")[None, :] * lengths / 1000.0
    return _dataset(
        "mmlu-pro",
        root,
        questions,
        correct,
        costs,
        COT_COST_UNIT,
        n_dropped,
        "parameter count (billions; MoE active) x output length (thousands of "
        "characters; missing -> the model's mean)",
    )


def load_mmlu_pro_openllm(data_dir: Path) -> RoutingDataset:
    """18-LLM Open LLM Leaderboard v2 pool; cost = params (B), constant per model."""
    root = data_dir / "mmlu_pro"
    questions, n_dropped = _questions(root)
    correct = _read_matrix(root / "correct_openllm_v2.csv.gz", questions["question_id"].to_numpy())
    costs = _params([str(c) for c in correct.columns], root / "correct_openllm_v2.csv.gz")
    return _dataset(
        "mmlu-pro-openllm",
        root,
        questions,
        correct,
        costs,
        OPENLLM_COST_UNIT,
        n_dropped,
        "parameter count (billions; MoE active), constant per model",
    )
