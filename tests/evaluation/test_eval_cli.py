"""``polyroute eval | fit | route`` end to end on a small routing file (hashing encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polyroute.cli import main
from polyroute.testing import make_routing_dataset


@pytest.fixture
def routing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A generic-format CSV (prompt, task, split, one score and one cost column per model)."""
    monkeypatch.setenv("POLYROUTE_CACHE_DIR", str(tmp_path / "cache"))
    ds = make_routing_dataset(150, 3, seed=3)
    split = np.full(ds.n_prompts, "train", dtype=object)
    split[ds.splits["test"]] = "test"
    frame = pd.DataFrame({"prompt": ds.prompts, "task": ds.tasks, "split": split})
    for j, m in enumerate(ds.model_names):
        frame[m] = ds.scores[:, j]
        frame[f"{m}|cost"] = ds.cost_matrix()[:, j]
    path = tmp_path / "pool.csv"
    frame.to_csv(path, index=False)
    return path


def test_eval_on_a_routing_file_writes_md_json_png(
    routing_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    code = main(
        [
            "eval",
            "--dataset",
            str(routing_file),
            "--task-column",
            "task",
            "--split-column",
            "split",
            "--router",
            "knn",
            "--router",
            "zero-router",
            "--router",
            "oracle",
            "--param",
            "knn.n_neighbors=5",
            "--encoder",
            "hashing",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| knn |" in printed and "| oracle† |" in printed
    md = (out / "pool.md").read_text()
    assert "polyroute eval --dataset" in md and "--param knn.n_neighbors=5" in md
    data = json.loads((out / "pool.json").read_text())
    assert data["encoder"] == "hashing"
    assert data["tests"]["test"]["routers"]["knn"]["area"] is not None
    assert (out / "pool.png").stat().st_size > 1000


def test_eval_json_output(routing_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "eval",
            "--dataset",
            str(routing_file),
            "--task-column",
            "task",
            "--split-column",
            "split",
            "--router",
            "best-single",
            "--no-write",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["tests"]["test"]["routers"]) == ["best-single"]


def test_fit_then_route_explains_the_choice(
    routing_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    art = tmp_path / "knn"
    assert (
        main(
            [
                "fit",
                "knn",
                "--dataset",
                str(routing_file),
                "--split",
                "all",
                "--task-column",
                "task",
                "--split-column",
                "split",
                "--encoder",
                "hashing",
                "--param",
                "n_neighbors=5",
                "--out",
                str(art),
                "--no-progress",
            ]
        )
        == 0
    )
    saved = json.loads((art / "router.json").read_text())
    assert saved["learned"]["encoder_"] == "hashing"
    capsys.readouterr()
    assert (
        main(
            [
                "route",
                "algebra question about algebra topic",
                "--router-dir",
                str(art),
                "--json",
                "--cost-weight",
                "0.01",
            ]
        )
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["model"] in {"model-0", "model-1", "model-2"}
    assert info["top"][0]["model"] == info["model"]
    assert info["top"][0]["cost"] is not None and info["encoder"] == "hashing"
    assert (
        main(["route", "python question", "--router-dir", str(art), "--candidates", "model-1"]) == 0
    )
    text = capsys.readouterr().out
    assert text.startswith("chosen: model-1\n") and "why:" in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["eval", "--suite", "routerdc", "--router", "nope"], "unknown router 'nope'; expected"),
        (["eval", "--suite", "no-such-suite"], "unknown suite 'no-such-suite'; expected one of"),
        (["eval", "--dataset", "no-such-dataset"], "unknown dataset 'no-such-dataset'"),
        (["eval", "--suite", "routerdc", "--param", "knn"], "--param expects LABEL.KEY=VALUE"),
        (
            [
                "fit",
                "oracle",
                "--dataset",
                "{file}",
                "--task-column",
                "task",
                "--split-column",
                "split",
                "--out",
                "x",
            ],
            "reads the test labels",
        ),
        (
            ["route", "hi", "--router-dir", "{art}", "--costs", "1,2"],
            "--costs has 2 entries; the router has 3 models",
        ),
        (
            ["route", "hi", "--router-dir", "{art}", "--candidates", "gpt-9"],
            "unknown model(s) ['gpt-9']",
        ),
        (["route", "hi", "--router-dir", "{tmp}/missing"], "no saved router at"),
    ],
)
def test_bad_inputs_give_one_line_errors(
    argv: list[str],
    message: str,
    routing_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    art = tmp_path / "best"
    assert (
        main(
            [
                "fit",
                "best-single",
                "--dataset",
                str(routing_file),
                "--task-column",
                "task",
                "--split-column",
                "split",
                "--encoder",
                "hashing",
                "--out",
                str(art),
                "--no-progress",
            ]
        )
        == 0
    )
    capsys.readouterr()
    argv = [a.format(file=routing_file, art=art, tmp=tmp_path) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("polyroute: error: ") and "\n" not in err
    assert message in err


def test_route_fits_a_registry_router_on_the_fly(
    routing_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "route",
                "history question",
                "--router",
                "zero-router",
                "--dataset",
                str(routing_file),
                "--task-column",
                "task",
                "--split-column",
                "split",
                "--encoder",
                "hashing",
                "--cost-weight",
                "1000",
                "--json",
            ]
        )
        == 0
    )
    info = json.loads(capsys.readouterr().out)
    # an enormous λ makes the cheapest model (cost 1) win whatever the predicted quality
    assert info["model"] == "model-0"
    assert [r["cost"] for r in info["top"]][:1] == [1.0]


def test_eval_with_an_explicit_cost_weight_grid(
    routing_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "eval",
                "--dataset",
                str(routing_file),
                "--task-column",
                "task",
                "--split-column",
                "split",
                "--router",
                "zero-router",
                "--cost-weights",
                "0.5",
                "0.01",
                "--no-write",
                "--json",
            ]
        )
        == 0
    )
    curve = json.loads(capsys.readouterr().out)["tests"]["test"]["routers"]["zero-router"]["curve"]
    assert curve["cost_weights"] == [0.0, 0.01, 0.5]
