"""The generic routing-data format: one table, one row per prompt, one score column per model.

Supported files: ``.csv``, ``.jsonl`` (one JSON object per line; both optionally ``.gz``) and
``.parquet``. Columns:

* ``prompt`` (name configurable): the prompt text; required.
* one numeric column per model: quality in [0, 1] (``true``/``false`` read as 1/0; empty = NaN).
* optional ``<model>|cost`` columns (suffix configurable): the cost of answering that prompt with
  that model; give them for every model or for none (a per-model cost mapping can be passed instead).
* optional id, task and split columns, named by the caller.

Example (``tiny.csv``)::

    id,prompt,task,split,small,large,small|cost,large|cost
    q1,What is 2+2?,math,train,1,1,0.001,0.02
    q2,Prove Fermat's last theorem.,math,test,0,0.5,0.002,0.04
"""

from __future__ import annotations

import gzip
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyroute.data._dataset import RoutingDataset
from polyroute.data._files import require_file
from polyroute.data._pandas import import_pandas
from polyroute.exceptions import DataError, MissingDependencyError

if TYPE_CHECKING:
    import pandas as pd

_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")


def _kind(path: Path) -> str:
    name = path.name.lower()
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return suffix.split(".")[1]
    raise DataError(
        f"{path}: unknown file extension {''.join(path.suffixes) or '(none)'!r}; "
        f"expected one of: {', '.join(_SUFFIXES)}"
    )


def _read_jsonl(path: Path) -> pd.DataFrame:
    pd = import_pandas()
    records = []
    gz = path.name.lower().endswith(".gz")
    with gzip.open(path, "rt", encoding="utf-8") if gz else path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{path}: line {lineno}: not valid JSON ({exc.msg} at column {exc.colno})"
                ) from exc
            if not isinstance(rec, dict):
                raise DataError(
                    f"{path}: line {lineno}: expected a JSON object; found {type(rec).__name__}"
                )
            records.append(rec)
    return pd.DataFrame.from_records(records)


def _read_table(path: Path) -> pd.DataFrame:
    pd = import_pandas()
    kind = _kind(path)
    require_file(path)
    try:
        if kind == "csv":
            return pd.read_csv(path, keep_default_na=True)
        if kind == "jsonl":
            return _read_jsonl(path)
        return pd.read_parquet(path)
    except DataError:
        raise
    except ImportError as exc:  # pandas reads parquet through pyarrow, an optional extra
        raise MissingDependencyError("pyarrow (to read .parquet files)", "eval") from exc
    except (
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        OSError,
        ValueError,
    ) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: malformed {kind} file ({first})") from exc


def _numeric(path: Path, frame: pd.DataFrame, column: str, what: str) -> np.ndarray:
    pd = import_pandas()
    values = frame[column]
    if pd.api.types.is_bool_dtype(values):
        return np.asarray(values.to_numpy(np.float64), dtype=np.float64)
    if values.dtype == object:  # JSON true/false mixed with nulls
        values = values.map(lambda v: float(v) if isinstance(v, bool) else v)
    converted = pd.to_numeric(values, errors="coerce")
    bad = converted.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        hint = (
            " (not a score column? name it with id_column/task_column/split_column or list "
            "the score columns in model_columns)"
            if what == "score"
            else ""
        )
        raise DataError(
            f"{path}: {what} column {column!r} must be numeric; found "
            f"{values.iloc[row]!r} in row {row + 1}{hint}"
        )
    return np.asarray(converted.to_numpy(np.float64), dtype=np.float64)


def _model_columns(
    path: Path,
    frame: pd.DataFrame,
    reserved: set[str],
    cost_suffix: str,
    model_columns: Sequence[str] | None,
) -> list[str]:
    if model_columns is not None:
        missing = [m for m in model_columns if m not in frame.columns]
        if missing:
            raise DataError(
                f"{path}: model column(s) {missing} not found; columns are {list(frame.columns)}"
            )
        models = [str(m) for m in model_columns]
    else:
        models = [
            str(c) for c in frame.columns if c not in reserved and not str(c).endswith(cost_suffix)
        ]
    if not models:
        raise DataError(
            f"{path}: expected at least one model score column besides "
            f"{sorted(reserved)}; found columns {list(frame.columns)}"
        )
    return models


def _costs(
    path: Path,
    frame: pd.DataFrame,
    models: list[str],
    cost_suffix: str,
    costs: Mapping[str, float] | Sequence[float] | None,
    *,
    chosen: bool,
) -> np.ndarray | None:
    present = [m for m in models if m + cost_suffix in frame.columns]
    orphans = (
        []
        if chosen
        else [  # with model_columns chosen, other models' costs are ignored
            str(c)
            for c in frame.columns
            if str(c).endswith(cost_suffix) and str(c)[: -len(cost_suffix)] not in models
        ]
    )
    if orphans:
        raise DataError(
            f"{path}: cost column(s) {orphans} name no model column; expected "
            f"'<model>{cost_suffix}' for models {models}"
        )
    if present and costs is not None:
        raise DataError(f"{path}: has cost columns and a costs argument; expected one of them")
    if present:
        if len(present) != len(models):
            lacking = [m for m in models if m not in present]
            raise DataError(
                f"{path}: cost columns for {len(present)} of {len(models)} models; "
                f"missing {[m + cost_suffix for m in lacking]}"
            )
        return np.column_stack([_numeric(path, frame, m + cost_suffix, "cost") for m in models])
    if costs is None:
        return None
    if isinstance(costs, Mapping):
        missing = [m for m in models if m not in costs]
        if missing or len(costs) != len(models):
            raise DataError(
                f"{path}: costs has {len(costs)} entries; dataset has {len(models)} "
                f"models (missing {missing}, extra "
                f"{sorted(set(costs) - set(models))})"
            )
        return np.array([float(costs[m]) for m in models])
    vector = np.asarray(costs, dtype=np.float64)
    if vector.shape != (len(models),):
        raise DataError(
            f"{path}: costs has {vector.size} entries; dataset has {len(models)} models {models}"
        )
    return vector


def _check_scores(path: Path, scores: np.ndarray, models: list[str]) -> None:
    bad = np.argwhere((scores < 0) | (scores > 1) | np.isinf(scores))
    if bad.size:
        row, col = bad[0]
        raise DataError(
            f"{path}: scores must lie in [0, 1]; found {scores[row, col]:g} in "
            f"column {models[col]!r}, row {row + 1}"
        )


def _strings(path: Path, frame: pd.DataFrame, column: str | None, label: str) -> np.ndarray | None:
    pd = import_pandas()
    if column is None:
        return None
    if column not in frame.columns:
        raise DataError(
            f"{path}: expected a {label} column {column!r}; found columns {list(frame.columns)}"
        )
    values = frame[column]
    if label in ("prompt", "id") and values.isna().any():
        row = int(np.flatnonzero(values.isna().to_numpy())[0])
        raise DataError(f"{path}: {label} column {column!r} is empty in row {row + 1}")
    return np.asarray(["" if pd.isna(v) else str(v) for v in values], dtype=object)


def read_routing_file(
    path: str | os.PathLike[str],
    *,
    name: str | None = None,
    prompt_column: str = "prompt",
    id_column: str | None = None,
    task_column: str | None = None,
    model_columns: Sequence[str] | None = None,
    cost_suffix: str = "|cost",
    split_column: str | None = None,
    costs: Mapping[str, float] | Sequence[float] | None = None,
    cost_unit: str = "relative",
) -> RoutingDataset:
    """Read a routing dataset from a CSV, JSONL or Parquet file.

    Parameters
    ----------
    path : path-like
        ``.csv``, ``.csv.gz``, ``.jsonl``, ``.jsonl.gz`` or ``.parquet``.
    name : str, optional
        Dataset name (default: the file name without extensions).
    prompt_column : str
        Column holding the prompt text.
    id_column, task_column, split_column : str, optional
        Columns holding unique prompt ids (default: the row number, from 0), the task of each
        prompt (default: ``"default"``), and the split each prompt belongs to (empty = none).
    model_columns : sequence of str, optional
        Score columns, one per model, values in [0, 1] (NaN = no result). Default: every column
        that is not the prompt, id, task or split column and does not end in ``cost_suffix``.
    cost_suffix : str
        Suffix of the per-prompt cost columns ``<model><cost_suffix>``.
    costs : mapping of model to float, or sequence of float (n_models,), optional
        Per-model constant costs, for files without cost columns.
    cost_unit : str
        What a unit of cost is, e.g. ``"usd"``.

    Returns
    -------
    RoutingDataset

    Raises
    ------
    DataNotFoundError
        The file does not exist.
    DataError
        Unknown extension, malformed file (with the line), missing prompt/id/task/split column,
        no model columns, non-numeric or out-of-range scores (with column and row), costs for some
        models only, or a cost vector whose length differs from the number of models.

    Examples
    --------
    >>> ds = read_routing_file("tiny.csv", id_column="id", task_column="task",
    ...                        split_column="split", cost_unit="usd")  # doctest: +SKIP
    >>> ds.model_names  # doctest: +SKIP
    ('small', 'large')
    """
    path = Path(path)
    frame = _read_table(path)
    frame.columns = [str(c) for c in frame.columns]
    prompts = _strings(path, frame, prompt_column, "prompt")
    if prompts is None:  # prompt_column is a str: _strings returned the column or raised
        raise DataError(f"{path}: expected a prompt column; found prompt_column=None")
    ids = _strings(path, frame, id_column, "id")
    tasks = _strings(path, frame, task_column, "task")
    split_values = _strings(path, frame, split_column, "split")
    reserved = {c for c in (prompt_column, id_column, task_column, split_column) if c}
    models = _model_columns(path, frame, reserved, cost_suffix, model_columns)
    scores = np.column_stack([_numeric(path, frame, m, "score") for m in models])
    _check_scores(path, scores, models)
    cost_values = _costs(path, frame, models, cost_suffix, costs, chosen=model_columns is not None)
    n = len(frame)
    if ids is not None and len(set(ids)) != n:
        dupes = [i for i, count in Counter(ids.tolist()).items() if count > 1][:3]
        raise DataError(f"{path}: id column {id_column!r} must be unique; duplicated: {dupes}")
    splits: dict[str, Any] = {}
    if split_values is not None:
        for split in dict.fromkeys(v for v in split_values if v):
            splits[split] = np.flatnonzero(split_values == split)
    try:
        return RoutingDataset(
            name=name or path.name.split(".")[0],
            prompt_ids=np.arange(n).astype(str) if ids is None else ids,
            prompts=prompts,
            tasks=np.full(n, "default", dtype=object) if tasks is None else tasks,
            model_names=tuple(models),
            scores=scores,
            costs=cost_values,
            cost_unit=cost_unit,
            splits=splits,
            metadata={"source": str(path)},
        )
    except DataError as exc:  # name the file in what the dataset checks found
        raise DataError(f"{path}: {exc}") from exc
