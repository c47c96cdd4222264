from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from polyroute.data import load_dataset, read_routing_file
from polyroute.exceptions import DataError, DataNotFoundError

ROWS = [
    {
        "id": "q1",
        "prompt": "What is 2+2?",
        "task": "math",
        "split": "train",
        "small": 1.0,
        "large": 1.0,
        "small|cost": 0.001,
        "large|cost": 0.02,
    },
    {
        "id": "q2",
        "prompt": "Prove Fermat's last theorem.",
        "task": "math",
        "split": "test",
        "small": 0.0,
        "large": 0.5,
        "small|cost": 0.002,
        "large|cost": 0.04,
    },
    {
        "id": "q3",
        "prompt": "Name a colour.",
        "task": "chat",
        "split": "train",
        "small": 1.0,
        "large": None,
        "small|cost": 0.001,
        "large|cost": 0.01,
    },
]
OPTS = {"id_column": "id", "task_column": "task", "split_column": "split"}


def _write(tmp_path, fmt: str, rows=ROWS):
    frame = pd.DataFrame(rows)
    path = tmp_path / f"tiny.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl.gz":
        with gzip.open(path, "wt", encoding="utf-8") as fh:
            fh.writelines(json.dumps(r) + "\n" for r in rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "jsonl.gz", "parquet"])
def test_generic_round_trip(tmp_path, fmt):
    ds = read_routing_file(_write(tmp_path, fmt), cost_unit="usd", **OPTS)
    assert ds.name == "tiny" and ds.model_names == ("small", "large")
    assert list(ds.prompt_ids) == ["q1", "q2", "q3"]
    assert list(ds.tasks) == ["math", "math", "chat"]
    np.testing.assert_array_equal(ds.scores, [[1, 1], [0, 0.5], [1, np.nan]])
    np.testing.assert_allclose(ds.costs, [[0.001, 0.02], [0.002, 0.04], [0.001, 0.01]])
    assert {k: v.tolist() for k, v in ds.splits.items()} == {"train": [0, 2], "test": [1]}
    assert ds.cost_unit == "usd" and ds.metadata["source"].endswith(fmt)


def test_generic_defaults_and_cost_mapping(tmp_path):
    rows = [{"prompt": r["prompt"], "small": r["small"], "large": r["large"]} for r in ROWS]
    ds = read_routing_file(
        _write(tmp_path, "csv", rows), name="mine", costs={"large": 10.0, "small": 1.0}
    )
    assert ds.name == "mine" and list(ds.prompt_ids) == ["0", "1", "2"]
    assert set(ds.tasks) == {"default"} and ds.splits == {}
    np.testing.assert_array_equal(ds.costs, [1.0, 10.0])


def test_generic_booleans_read_as_scores(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(
        '{"prompt": "a", "m1": true, "m2": false}\n{"prompt": "b", "m1": false, "m2": null}\n',
        encoding="utf-8",
    )
    np.testing.assert_array_equal(read_routing_file(path).scores, [[1, 0], [0, np.nan]])


def test_generic_model_columns_select(tmp_path):
    ds = read_routing_file(_write(tmp_path, "csv"), model_columns=["large"], **OPTS)
    assert ds.model_names == ("large",) and ds.costs.shape == (3, 1)


def test_generic_malformed_csv_names_line(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("prompt,m1\nhello,1\nworld,0,extra,fields\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.csv: malformed csv .*line 3"):
        read_routing_file(path)


def test_generic_malformed_jsonl_names_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "a", "m1": 1}\n{"prompt": "b", "m1": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: not valid JSON"):
        read_routing_file(path)


def test_generic_score_out_of_range_names_file_column_row(tmp_path):
    rows = [dict(ROWS[0]), dict(ROWS[1], large=7.0)]
    with pytest.raises(
        DataError,
        match=r"tiny\.csv: scores must lie in \[0, 1\]; found 7 in "
        r"column 'large', row 2",
    ):
        read_routing_file(_write(tmp_path, "csv", rows), **OPTS)


def test_generic_dataset_check_errors_name_the_file(tmp_path):
    rows = [dict(ROWS[0]), dict(ROWS[1], **{"large|cost": -1.0})]
    with pytest.raises(DataError, match=r"tiny\.csv: dataset 'tiny': costs must be >= 0"):
        read_routing_file(_write(tmp_path, "csv", rows), **OPTS)


def test_generic_cost_vector_wrong_length(tmp_path):
    rows = [{"prompt": "a", "m1": 1, "m2": 0}]
    path = _write(tmp_path, "csv", rows)
    with pytest.raises(DataError, match="costs has 3 entries; dataset has 2 models"):
        read_routing_file(path, costs=[1.0, 2.0, 3.0])
    with pytest.raises(
        DataError,
        match=r"costs has 1 entries; dataset has 2 models \(missing "
        r"\['m2'\]",
    ):
        read_routing_file(path, costs={"m1": 1.0})


def test_generic_cost_columns_for_some_models_only(tmp_path):
    rows = [{"prompt": "a", "m1": 1, "m2": 0, "m1|cost": 0.5}]
    with pytest.raises(DataError, match=r"cost columns for 1 of 2 models; missing \['m2\|cost'\]"):
        read_routing_file(_write(tmp_path, "csv", rows))


def test_generic_orphan_cost_column(tmp_path):
    rows = [{"prompt": "a", "m1": 1, "m3|cost": 0.5}]
    with pytest.raises(DataError, match=r"cost column\(s\) \['m3\|cost'\] name no model column"):
        read_routing_file(_write(tmp_path, "csv", rows))


def test_generic_missing_prompt_column(tmp_path):
    rows = [{"text": "a", "m1": 1}]
    with pytest.raises(
        DataError,
        match=r"expected a prompt column 'prompt'; found columns "
        r"\['text', 'm1'\]",
    ):
        read_routing_file(_write(tmp_path, "csv", rows))


def test_generic_no_model_columns(tmp_path):
    rows = [{"prompt": "a", "task": "t"}]
    with pytest.raises(DataError, match="expected at least one model score column"):
        read_routing_file(_write(tmp_path, "csv", rows), task_column="task")


def test_generic_non_numeric_score_hints_at_columns(tmp_path):
    rows = [{"prompt": "a", "task": "t", "m1": 1}]
    with pytest.raises(
        DataError, match="score column 'task' must be numeric; found 't' in row 1.*task_column"
    ):
        read_routing_file(_write(tmp_path, "csv", rows))


def test_generic_duplicate_ids(tmp_path):
    rows = [{"id": "x", "prompt": "a", "m1": 1}, {"id": "x", "prompt": "b", "m1": 0}]
    with pytest.raises(DataError, match=r"id column 'id' must be unique; duplicated: \['x'\]"):
        read_routing_file(_write(tmp_path, "csv", rows), id_column="id")


def test_generic_unknown_extension(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x", encoding="utf-8")
    with pytest.raises(
        DataError,
        match=r"unknown file extension '\.xlsx'; expected one of: "
        r"\.csv",
    ):
        read_routing_file(path)


def test_generic_missing_file(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"nope\.csv"):
        read_routing_file(tmp_path / "nope.csv")


def test_missing_data_dir_names_path(tmp_path):
    with pytest.raises(DataNotFoundError, match=str(tmp_path / "absent")):
        load_dataset("routerbench", data_dir=tmp_path / "absent")


def test_generic_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match=r"empty\.csv: malformed csv file"):
        read_routing_file(path)


def test_generic_gzipped_csv(tmp_path):
    path = tmp_path / "z.csv.gz"
    pd.DataFrame(ROWS).to_csv(path, index=False)
    ds = read_routing_file(path, **OPTS)
    assert ds.name == "z" and ds.n_prompts == 3 and ds.costs.shape == (3, 2)
