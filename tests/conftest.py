"""Shared fixtures: a clean environment, the real data directory, a seeded tiny dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyroute.config import resolve_data_dir
from polyroute.data import RoutingDataset
from polyroute.exceptions import DataNotFoundError


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real routing data (``../shared/data`` or ``$POLYROUTE_DATA_DIR``); skip when absent."""
    try:
        return resolve_data_dir()
    except DataNotFoundError as exc:
        pytest.skip(f"real routing data not available: {exc}")


@pytest.fixture
def tiny_dataset() -> RoutingDataset:
    """6 prompts x 3 models with per-model costs and two tasks; seeded and hand-checkable."""
    rng = np.random.default_rng(0)
    return RoutingDataset(
        name="tiny",
        prompt_ids=[f"p{i}" for i in range(6)],
        prompts=[f"question number {i}" for i in range(6)],
        tasks=["math", "math", "math", "code", "code", "code"],
        model_names=("small", "medium", "large"),
        scores=rng.integers(0, 2, size=(6, 3)).astype(float),
        costs=np.array([1.0, 2.0, 10.0]),
        splits={"train": [0, 1, 3, 4], "test": [2, 5]},
    )
