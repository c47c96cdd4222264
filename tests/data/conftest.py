"""Fixtures for the data tests (``data_dir`` comes from tests/conftest.py and skips without data)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from polyroute.data import RoutingDataset, load_dataset


@pytest.fixture(scope="session")
def load(data_dir: Path) -> Callable[[str], RoutingDataset]:
    """Load a named dataset from the real data directory, once per test session."""
    cache: dict[str, RoutingDataset] = {}

    def _load(name: str) -> RoutingDataset:
        if name not in cache:
            cache[name] = load_dataset(name, data_dir=data_dir)
        return cache[name]

    return _load
