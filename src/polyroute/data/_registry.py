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
    DatasetInfo("routerdc", "polyroute.data._routerdc:load_routerdc",
                "RouterDC paper split: 7 open 7-8B LLMs; ID train/test (MMLU, GSM8K, CMMLU, ARC-C, "
                "HumanEval) and OOD test (MATH-PreAlgebra, MBPP, C-EVAL); no costs"),
)


def register_dataset(info: DatasetInfo) -> None:
    """Add (or replace) a named dataset."""
    global _DATASETS
    _DATASETS = tuple(d for d in _DATASETS if d.name != info.name) + (info,)


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
