"""Fixtures for the UniRoute tests: a small clustered problem with known per-cluster accuracy."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POLYROUTE_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture
def clustered() -> dict[str, np.ndarray]:
    """6 well-separated groups in 16-d; 5 models whose accuracy depends on the group only."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16)) * 3.0
    group = rng.integers(0, 6, 2400)
    X = (centres[group] + rng.normal(size=(2400, 16))).astype(np.float32)
    acc = np.array(
        [
            [0.9, 0.9, 0.1, 0.1, 0.5, 0.5],
            [0.1, 0.1, 0.9, 0.9, 0.5, 0.5],
            [0.5, 0.5, 0.5, 0.5, 0.9, 0.9],
            [0.6, 0.6, 0.6, 0.6, 0.6, 0.6],
            [0.95, 0.2, 0.95, 0.2, 0.95, 0.2],  # the "new" model
        ]
    )
    Y = (rng.uniform(size=(2400, 5)) < acc[:, group].T).astype(float)
    return {"X": X, "Y": Y, "group": group, "acc": acc}
