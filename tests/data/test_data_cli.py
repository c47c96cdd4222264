from __future__ import annotations

import json

import pytest

from polyroute.cli import main
from polyroute.data import available_datasets


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_data_list_table_shows_every_dataset(capsys, data_dir):
    code, out, _ = _run(capsys, "data", "list", "--data-dir", str(data_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"data directory: {data_dir}"
    assert lines[1].split()[:3] == ["NAME", "PROMPTS", "MODELS"]
    rows = {line.split()[0]: line for line in lines[2:] if line.strip()}
    for name in available_datasets():
        assert rows[name].rstrip().endswith("ok")
    assert "3,164" in rows["routerbench"] and "usd" in rows["routerbench"]
    assert "train=2212 test=952" in rows["routerbench"]


def test_data_list_json(capsys, data_dir):
    code, out, _ = _run(capsys, "data", "list", "--data-dir", str(data_dir), "--json")
    assert code == 0
    info = {d["name"]: d for d in json.loads(out)["datasets"]}
    assert set(info) == set(available_datasets())
    assert info["mmlu-pro"]["n_models"] == 29 and info["mmlu-pro"]["status"] == "ok"
    assert info["llmrouter"]["splits"] == {"train": 5489, "test": 500}
    assert info["routerdc"]["cost_unit"] is None


def test_data_list_with_empty_data_dir_marks_files_missing(capsys, tmp_path):
    code, out, _ = _run(capsys, "data", "list", "--data-dir", str(tmp_path), "--json")
    assert code == 0
    datasets = json.loads(out)["datasets"]
    assert {d["status"] for d in datasets} == {"missing"}
    assert all(str(tmp_path) in d["error"] for d in datasets)


def test_data_list_with_absent_data_dir_still_lists(capsys, tmp_path):
    code, out, err = _run(capsys, "data", "list", "--data-dir", str(tmp_path / "absent"))
    assert code == 0 and "data directory: (not found)" in out
    assert str(tmp_path / "absent") in err


def test_data_show_json(capsys, data_dir):
    code, out, _ = _run(
        capsys, "data", "show", "routerbench", "--data-dir", str(data_dir), "--json"
    )
    assert code == 0
    info = json.loads(out)
    assert info["n_prompts"] == 3164 and info["cost_unit"] == "usd"
    assert info["tasks"] == {"arc_challenge": 1470, "mbpp": 427, "winogrande": 1267}
    models = {m["name"]: m for m in info["models"]}
    assert info["best_single_model"] == "gpt-4-1106-preview"
    assert models["gpt-4-1106-preview"]["mean_score"] == pytest.approx(0.88, abs=0.001)
    assert models["gpt-4-1106-preview"]["mean_cost"] > models["claude-v1"]["mean_cost"]


def test_data_show_table_with_split(capsys, data_dir):
    code, out, _ = _run(
        capsys, "data", "show", "routerdc", "--data-dir", str(data_dir), "--split", "ood"
    )
    assert code == 0
    assert out.splitlines()[0] == "routerdc:ood: 2717 prompts x 7 models"
    assert "cost unit: (no costs)" in out
    assert "math_prealgebra" in out and "mmlu " not in out


def test_data_show_generic_file(capsys, tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("prompt,small,large\nhi,1,1\nhard,0,1\n", encoding="utf-8")
    code, out, _ = _run(capsys, "data", "show", str(path), "--json")
    assert code == 0
    info = json.loads(out)
    assert info["name"] == "mine" and info["n_prompts"] == 2
    assert [m["mean_score"] for m in info["models"]] == [0.5, 1.0]


def test_data_show_unknown_name_is_one_line_error(capsys):
    code, out, err = _run(capsys, "data", "show", "no-such-set")
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert err.startswith("polyroute: error: unknown dataset 'no-such-set'; expected one of: ")
    assert "routerbench" in err and "mmlu-pro" in err


def test_data_show_unknown_split_is_one_line_error(capsys, data_dir):
    code, _, err = _run(
        capsys, "data", "show", "routerbench", "--data-dir", str(data_dir), "--split", "val"
    )
    assert code == 2 and "has no split 'val'; expected one of: train, test" in err


def test_data_show_missing_data_is_one_line_error(capsys, tmp_path):
    code, _, err = _run(capsys, "data", "show", "mmlu-pro", "--data-dir", str(tmp_path))
    assert code == 2 and err.count("\n") == 1
    assert str(tmp_path / "mmlu_pro" / "questions.jsonl.gz") in err
