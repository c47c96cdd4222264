"""``polyroute fit | eval | route`` on a routing file of the user's own: the options and
behaviours a new user needs (costs saved with a fit, an id column, a Command line that reproduces
the run, a model without training results, several configurations of one router)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polyroute.cli import main
from polyroute.routers import load_router
from polyroute.testing import make_routing_dataset


def _frame(seed: int = 3) -> pd.DataFrame:
    """A generic-format table: string id, prompt, task, split, score and cost per model."""
    ds = make_routing_dataset(150, 3, seed=seed)
    split = np.full(ds.n_prompts, "train", dtype=object)
    split[ds.splits["test"]] = "test"
    frame = pd.DataFrame(
        {
            "id": [f"q-{i}" for i in range(ds.n_prompts)],
            "prompt": ds.prompts,
            "task": ds.tasks,
            "split": split,
        }
    )
    for j, m in enumerate(ds.model_names):
        frame[m] = ds.scores[:, j]
        frame[f"{m}|cost"] = ds.cost_matrix()[:, j]
    return frame


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def pool_file(tmp_path: Path) -> Path:
    path = tmp_path / "pool.csv"
    _frame().to_csv(path, index=False)
    return path


COLUMNS = ["--id-column", "id", "--task-column", "task", "--split-column", "split"]


def _eval_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    capsys.readouterr()
    assert main(["eval", *argv, "--encoder", "hashing", "--no-write", "--json"]) == 0
    data: dict[str, object] = json.loads(capsys.readouterr().out)
    return data


# ------------------------------------------------------------------ fit saves the pool's costs
@pytest.mark.parametrize("router", ["uniroute-kmeans", "uniroute-learnedmap"])
def test_fit_saves_the_pool_costs_so_route_trades_quality_for_cost(
    router: str, pool_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    art = tmp_path / router
    argv = ["fit", router, "--dataset", str(pool_file), "--split", "train", *COLUMNS]
    assert main([*argv, "--encoder", "hashing", "--out", str(art), "--no-progress"]) == 0
    frame = _frame()
    train = frame[frame.split == "train"]
    want = [train[f"model-{j}|cost"].mean() for j in range(3)]
    np.testing.assert_allclose(load_router(art).model_costs_, want)
    capsys.readouterr()
    assert main(["route", "a question", "--router-dir", str(art), "--json"]) == 0
    quality_first = json.loads(capsys.readouterr().out)
    top = quality_first["top"]
    assert quality_first["model"] == max(top, key=lambda r: r["predicted_quality"])["model"]
    assert [r["cost"] for r in sorted(top, key=lambda r: r["model"])] == pytest.approx(want)
    assert main(["route", "a question", "--router-dir", str(art), "--cost-weight", "1000"]) == 0
    assert capsys.readouterr().out.startswith("chosen: model-0\n")  # the cheapest model


# ------------------------------------------------------------------ id column
def test_eval_and_fit_read_the_id_column_of_a_routing_file(
    pool_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _eval_json(capsys, "--dataset", str(pool_file), *COLUMNS, "--router", "knn")
    assert data["models"] == ["model-0", "model-1", "model-2"]  # 'id' is not a model
    art = tmp_path / "knn"
    argv = ["fit", "knn", "--dataset", str(pool_file), *COLUMNS, "--encoder", "hashing"]
    assert main([*argv, "--out", str(art)]) == 0
    assert load_router(art).model_names_ == ["model-0", "model-1", "model-2"]


# ------------------------------------------------------------------ Command line reproduces
def _without_timings(data: dict[str, object]) -> dict[str, object]:
    text = json.dumps(data)
    out: dict[str, object] = json.loads(text)
    out.pop("fit_time_s")
    out.pop("embed_time_s")
    out.pop("command")
    for test in out["tests"].values():  # type: ignore[attr-defined]
        for r in test["routers"].values():
            r.pop("predict_time_s")
    return out


def test_report_command_line_reproduces_every_option_given(
    pool_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    argv = [
        "eval",
        "--dataset",
        str(pool_file),
        *COLUMNS,
        "--exclude-models",
        "model-1",
        "--router",
        "knn:n_neighbors=7",
        "--router",
        "zero-router",
        "--cost-weights",
        "0",
        "0.5",
        "--encoder",
        "hashing",
        "--train-target",
        "soft_scores",
        "--name",
        "mine",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    md = (out / "mine.md").read_text()
    command = md.split("```bash\n", 1)[1].split("\n```", 1)[0]
    assert command.startswith("polyroute eval ")
    given = [a for a in argv[1:] if a.startswith("--") and a != "--no-progress"]
    written = shlex.split(command)
    assert sorted(a for a in written if a.startswith("--")) == sorted(given)
    first = _without_timings(json.loads((out / "mine.json").read_text()))
    (out / "mine.json").unlink()
    capsys.readouterr()
    assert main(written[1:]) == 0  # the Command line, run as written
    assert _without_timings(json.loads((out / "mine.json").read_text())) == first


# ------------------------------------------------------------------ a model with no training rows
@pytest.fixture
def gap_file(tmp_path: Path) -> Path:
    """model-2 has no result on any training prompt (it was only run on the test prompts)."""
    frame = _frame()
    frame.loc[frame.split == "train", "model-2"] = np.nan
    path = tmp_path / "gap.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("command", ["eval", "fit"])
def test_a_model_without_training_results_stops_the_run_naming_it_and_the_option(
    command: str, gap_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = ["eval", "--router", "knn"] if command == "eval" else ["fit", "knn"]
    tail = ["--no-write"] if command == "eval" else ["--out", str(tmp_path / "a")]
    argv = [*head, "--dataset", str(gap_file), *COLUMNS, "--encoder", "hashing", *tail]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'model-2'" in err and "no result on any of the 105 training prompts" in err
    assert "--exclude-models model-2" in err
    assert main([*argv, "--exclude-models", "model-2"]) == 0
    if command == "fit":
        assert load_router(tmp_path / "a").model_names_ == ["model-0", "model-1"]


def test_exclude_models_leaves_them_out_of_every_table(
    gap_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--dataset", str(gap_file), *COLUMNS, "--router", "knn"]
    data = _eval_json(capsys, *argv, "--exclude-models", "model-2")
    assert data["models"] == ["model-0", "model-1"]
    singles = data["tests"]["test"]["single_models"]  # type: ignore[index]
    assert list(singles) == ["model-0", "model-1"]
    assert main(["eval", *argv, "--exclude-models", "model-9", "--no-write"]) == 2
    err = capsys.readouterr().err
    assert "cannot exclude model(s) ['model-9']" in err and "model-0, model-1, model-2" in err


# ------------------------------------------------------------------ QNC reference model
def test_qnc_reference_is_chosen_on_the_queries_every_model_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Hand-computed: 'partial' was only run on q1 and q2. Over its own results it looks best
    (1.0, against 0.5 for 'cheap' and 'mid'), so QNC's target was 1.0 and no router over all four
    queries could reach it. On the two queries every model answered, 'cheap' 0.5, 'mid' 1.0 and
    'partial' 1.0: the reference is 'mid' (tie goes to the cheaper), quality 1.0 at cost 2. The
    oracle answers q1 with 'mid' (cost 2) and q2 with 'cheap' (cost 1): quality 1.0 at mean cost
    1.5 on those queries, so QNC = 1.5 / 2 = 0.75; always-cheapest reaches 0.5 only: never."""
    rows = [
        # split, cheap, mid, partial
        ("train", 1, 1, 1),
        ("train", 0, 1, 1),
        ("test", 0, 1, 1),  # q1
        ("test", 1, 1, 1),  # q2
        ("test", 0, 0, None),  # q3
        ("test", 1, 0, None),  # q4
    ]
    frame = pd.DataFrame(rows, columns=["split", "cheap", "mid", "partial"])
    frame.insert(0, "prompt", [f"prompt {i}" for i in range(len(rows))])
    for model, cost in {"cheap": 1.0, "mid": 2.0, "partial": 4.0}.items():
        frame[f"{model}|cost"] = cost
    path = tmp_path / "micro.csv"
    frame.to_csv(path, index=False)
    argv = ["--dataset", str(path), "--split-column", "split"]
    data = _eval_json(capsys, *argv, "--router", "oracle", "--router", "cheapest")
    test = data["tests"]["test"]  # type: ignore[index]
    assert test["best_single"] == "mid"
    assert test["qnc_reference"] == {"model": "mid", "quality": 1.0, "cost": 2.0, "n_queries": 2}
    assert test["routers"]["oracle"]["qnc"] == pytest.approx(0.75)
    assert test["routers"]["cheapest"]["qnc_reached"] is False
    assert main(["eval", *argv, "--router", "oracle", "--no-write"]) == 0
    md = capsys.readouterr().out
    assert "| mid (best) | 50.00 | 50.00 | 100.00 | 2 |" in md
    assert "Only 2 of 4 prompts of `test` have a result from every model" in md


# ------------------------------------------------------------------ several configurations
def test_one_run_compares_configurations_of_the_same_router_under_distinct_labels(
    pool_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    routers = ["uniroute-kmeans", "uniroute-kmeans:n_clusters=multi", "coarse=uniroute-kmeans"]
    argv = ["--dataset", str(pool_file), *COLUMNS]
    for r in routers:
        argv += ["--router", r]
    data = _eval_json(capsys, *argv, "--param", "coarse.n_clusters=2")
    results = data["tests"]["test"]["routers"]  # type: ignore[index]
    assert list(results) == ["uniroute-kmeans", "uniroute-kmeans:n_clusters=multi", "coarse"]
    assert data["router_specs"] == {
        "uniroute-kmeans": {"router": "uniroute-kmeans", "params": {}},
        "uniroute-kmeans:n_clusters=multi": {
            "router": "uniroute-kmeans",
            "params": {"n_clusters": "multi"},
        },
        "coarse": {"router": "uniroute-kmeans", "params": {"n_clusters": 2}},
    }
    curves = {k: v["curve"]["qualities"] for k, v in results.items()}
    assert curves["coarse"] != curves["uniroute-kmeans"]  # the configurations really differ


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("uniroute-kmeans:multi", "expected KEY=VALUE after ':'"),
        ("knn:k=5", "router 'knn:k=5' (knn) has no parameter(s) ['k']"),
        ("no-such-router", "no-such-router"),
        ("knn:n_neighbors=5,n_neighbors=6", "parameter 'n_neighbors' is given twice"),
    ],
)
def test_bad_router_specs_are_clear_errors(
    spec: str, message: str, pool_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--dataset", str(pool_file), *COLUMNS, "--router", spec, "--no-write"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("polyroute: error: ") and message in err


def test_two_routers_with_one_label_are_refused(
    pool_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "--dataset", str(pool_file), *COLUMNS, "--no-write"]
    assert main([*argv, "--router", "knn", "--router", "knn"]) == 2
    assert "two routers are labelled 'knn'" in capsys.readouterr().err


# ------------------------------------------------------------------ routerdc seeded by default
def test_routerdc_fitted_twice_with_default_parameters_is_the_same_router(
    pool_file: Path, tmp_path: Path
) -> None:
    arrays = []
    for run in ("a", "b"):
        argv = ["fit", "routerdc", "--dataset", str(pool_file), *COLUMNS, "--encoder", "hashing"]
        small = ("n_steps=10", "eval_every=5", "batch_size=32", "hidden_dim=32", "embed_dim=16")
        for param in (*small, "show_progress=false"):
            argv += ["--param", param]
        assert main([*argv, "--out", str(tmp_path / run)]) == 0
        with np.load(tmp_path / run / "arrays.npz") as saved:
            arrays.append({k: saved[k] for k in saved.files})
    assert arrays[0].keys() == arrays[1].keys()
    for key, value in arrays[0].items():
        np.testing.assert_array_equal(value, arrays[1][key], err_msg=key)
