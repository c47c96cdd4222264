"""The shift suite: leave one task out, regret against the best single model of the training rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polyroute.cli import main
from polyroute.data import RoutingDataset
from polyroute.evaluation._shift import ShiftRouter, run_shift
from polyroute.testing import make_routing_dataset


def test_regret_is_measured_against_the_best_model_of_the_training_rows() -> None:
    """Model 'a' is best on tasks x and y; on held-out task z only 'b' is right."""
    tasks = np.repeat(["x", "y", "z"], 20)
    Y = np.zeros((60, 2))
    Y[:40, 0] = 1.0
    Y[40:, 1] = 1.0
    Y[:40:4, 1] = 1.0  # 'b' is right on a quarter of x and y
    ds = RoutingDataset(
        name="toy",
        prompt_ids=[str(i) for i in range(60)],
        prompts=[f"p{i}" for i in range(60)],
        tasks=tasks,
        model_names=("a", "b"),
        scores=Y,
        costs=np.array([2.0, 1.0]),
    )
    X = np.eye(3, dtype=np.float32)[np.repeat([0, 1, 2], 20)] + 0.01
    res = run_shift(ds, X, np.arange(60), routers=[ShiftRouter("knn", "knn", {"n_neighbors": 5})])
    z = next(t for t in res.tasks if t.task == "z")
    assert z.best_single == "a" and z.best_single_accuracy == 0.0
    assert z.regret["zero-router"] == 0.0
    assert set(z.regret) == {"knn", "knn+safe", "zero-router"}
    summary = res.summary()
    assert summary["zero-router"]["worst_regret"] == 0.0
    assert summary["knn+safe"]["mean_area"] is not None


@pytest.fixture
def routing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("POLYROUTE_CACHE_DIR", str(tmp_path / "cache"))
    ds = make_routing_dataset(150, 3, seed=3, n_tasks=3)
    frame = pd.DataFrame({"prompt": ds.prompts, "task": ds.tasks})
    for j, m in enumerate(ds.model_names):
        frame[m] = ds.scores[:, j]
    path = tmp_path / "pool.csv"
    frame.to_csv(path, index=False)
    return path


def test_shift_suite_runs_on_a_routing_file_with_a_task_column(
    routing_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    argv = ["eval", "--dataset", str(routing_file), "--task-column", "task", "--shift"]
    argv += ["--encoder", "hashing", "--router", "knn", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    data = json.loads((out / "shift_pool.json").read_text())
    assert data["command"].startswith("polyroute eval --dataset")
    (only,) = data["datasets"]
    assert len(only["tasks"]) == 3
    assert set(only["summary"]) == {"knn", "knn+safe", "zero-router"}
    assert "worst regret" in (out / "shift_pool.md").read_text()
    assert "## " in capsys.readouterr().out


def test_shift_suite_needs_tasks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.csv"
    pd.DataFrame({"prompt": ["a", "b"], "m1": [1.0, 0.0], "m2": [0.0, 1.0]}).to_csv(path)
    assert main(["eval", "--dataset", str(path), "--shift", "--encoder", "hashing"]) != 0
    assert "holds out one task at a time" in capsys.readouterr().err
