"""Named datasets: ``load_dataset(name)`` -> ``RoutingDataset``, read from the data directory."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from polyroute.config import resolve_data_dir
from polyroute.data._dataset import RoutingDataset
from polyroute.exceptions import UnknownComponentError


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    loader: str  # "module:function" taking the data directory
    description: str


_DATASETS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        "routerdc",
        "polyroute.data._routerdc:load_routerdc",
        "RouterDC paper split: 7 open 7-8B LLMs; ID train/test (MMLU, GSM8K, CMMLU, ARC-C, "
        "HumanEval) and OOD test (MATH-PreAlgebra, MBPP, C-EVAL); no costs",
    ),
    DatasetInfo(
        "routerbench",
        "polyroute.data._routerbench:load_routerbench",
        "RouterBench subset: 11 LLMs (GPT-4, Claude, Llama-2-70B, Mixtral...) on ARC-C, MBPP, "
        "Winogrande; USD cost per query; RouterDC's train/test split",
    ),
    DatasetInfo(
        "mmlu-pro",
        "polyroute.data._mmlu_pro:load_mmlu_pro",
        "MMLU-Pro 5-shot CoT: 29 LLMs x 11,984 questions in 14 categories; cost = params "
        "(B) x output kchars; no splits (use random_split)",
    ),
    DatasetInfo(
        "mmlu-pro-openllm",
        "polyroute.data._mmlu_pro:load_mmlu_pro_openllm",
        "MMLU-Pro, Open LLM Leaderboard v2 log-likelihood protocol: 18 other LLMs; cost = "
        "params (B) per model; never mix with mmlu-pro",
    ),
    DatasetInfo(
        "routellm-mmlu",
        "polyroute.data._routellm:load_routellm_mmlu",
        "RouteLLM strong/weak pair (GPT-4-1106 vs Mixtral-8x7B) on 14,042 MMLU questions, "
        "57 subjects; USD from the paper's per-token prices; no splits",
    ),
    DatasetInfo(
        "routellm-gsm8k",
        "polyroute.data._routellm:load_routellm_gsm8k",
        "RouteLLM strong/weak pair on 1,319 GSM8K test questions; USD from per-token prices "
        "x recorded answer lengths; no splits",
    ),
    DatasetInfo(
        "routellm-mtbench",
        "polyroute.data._routellm:load_routellm_mtbench",
        "RouteLLM strong/weak pair on the 80 MT-Bench questions; GPT-4 judge grade / 10; "
        "USD estimate; no splits",
    ),
    DatasetInfo(
        "llmrouter",
        "polyroute.data._llmrouter:load_llmrouter",
        "LLMRouter (U-Lab): 9 hosted 7B-70B LLMs on 14 tasks; USD from per-token prices; "
        "train/test with the 119 test questions dropped from train",
    ),
)


def register_dataset(info: DatasetInfo) -> None:
    """Add (or replace) a named dataset."""
    global _DATASETS
    _DATASETS = (*tuple(d for d in _DATASETS if d.name != info.name), info)


def available_datasets() -> dict[str, str]:
    """Dataset name -> one-line description."""
    return {d.name: d.description for d in _DATASETS}


def load_dataset(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> RoutingDataset:
    """Load a named dataset from the data directory (see :func:`polyroute.config.resolve_data_dir`).

    Raises ``UnknownComponentError`` for an unknown name and ``DataNotFoundError`` naming the path
    tried when a file is missing.
    """
    table = {d.name: d for d in _DATASETS}
    if name not in table:
        raise UnknownComponentError("dataset", name, list(table))
    module, _, func = table[name].loader.partition(":")
    root: Path = resolve_data_dir(data_dir)
    dataset: RoutingDataset = getattr(importlib.import_module(module), func)(root)
    return dataset
