"""``polyroute data``: list the routing datasets and show one in detail.

::

    polyroute data list [--data-dir DIR] [--json]
    polyroute data show NAME|FILE [--data-dir DIR] [--split SPLIT] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.config import resolve_data_dir
from polyroute.data import RoutingDataset, available_datasets, load_dataset, read_routing_file
from polyroute.exceptions import DataError, DataNotFoundError, UnknownComponentError

_FILE_SUFFIXES = (".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".parquet")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "data",
        help="list and inspect routing datasets",
        description="List the named routing datasets and show one.",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    lst = sub.add_parser("list", help="table of the named datasets and whether their files exist")
    _common(lst)
    lst.set_defaults(func=_cmd_list)

    show = sub.add_parser(
        "show",
        help="sizes, splits, per-model score and cost, per-task counts",
        description="Show a named dataset, or a routing file in the generic "
        "format (CSV/JSONL/Parquet; see docs/data.md).",
    )
    show.add_argument(
        "name",
        metavar="NAME|FILE",
        help="dataset name (see 'polyroute data list') or a path to a routing file",
    )
    show.add_argument("--split", help="only this split's rows")
    show.add_argument("--prompt-column", default="prompt", help="(files) prompt column")
    show.add_argument("--id-column", help="(files) prompt id column")
    show.add_argument("--task-column", help="(files) task column")
    show.add_argument("--split-column", help="(files) split column")
    _common(show)
    show.set_defaults(func=_cmd_show)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir",
        help="routing data directory (default: $POLYROUTE_DATA_DIR, then ../shared/data)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


# ---------------------------------------------------------------------------------------- list
def _summary_row(name: str, description: str, data_dir: Path | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": name,
        "description": description,
        "status": "missing",
        "n_prompts": None,
        "n_models": None,
        "splits": {},
        "cost_unit": None,
    }
    if data_dir is None:
        return row
    try:
        ds = load_dataset(name, data_dir=data_dir)
    except DataNotFoundError as exc:
        row["error"] = str(exc)
        return row
    except DataError as exc:  # present but unreadable: show it, keep listing the others
        row.update(status="error", error=str(exc))
        return row
    row.update(
        status="ok",
        n_prompts=ds.n_prompts,
        n_models=ds.n_models,
        splits={k: len(v) for k, v in ds.splits.items()},
        cost_unit=ds.cost_unit if ds.costs is not None else None,
    )
    return row


def _cmd_list(args: argparse.Namespace) -> int:
    try:
        data_dir: Path | None = resolve_data_dir(args.data_dir)
        missing_dir = None
    except DataNotFoundError as exc:
        data_dir, missing_dir = None, str(exc)
    rows = [_summary_row(n, d, data_dir) for n, d in available_datasets().items()]
    if args.json:
        out = {"data_dir": str(data_dir) if data_dir else None, "datasets": rows}
        if missing_dir:
            out["error"] = missing_dir
        print(json.dumps(out, indent=2))
        return 0
    table = [
        [
            r["name"],
            _num(r["n_prompts"]),
            _num(r["n_models"]),
            _splits(r["splits"]),
            r["cost_unit"] or "-",
            r["status"],
        ]
        for r in rows
    ]
    print(f"data directory: {data_dir or '(not found)'}")
    _print_table(["NAME", "PROMPTS", "MODELS", "SPLITS", "COST UNIT", "FILES"], table, right={1, 2})
    if missing_dir:
        print(f"note: {missing_dir}", file=sys.stderr)
    print("\n'polyroute data show NAME' for details.")
    return 0


# ---------------------------------------------------------------------------------------- show
def _load(args: argparse.Namespace) -> RoutingDataset:
    name: str = args.name
    if name in available_datasets():
        return load_dataset(name, data_dir=args.data_dir)
    if name.lower().endswith(_FILE_SUFFIXES) or Path(name).is_file():
        return read_routing_file(
            name,
            prompt_column=args.prompt_column,
            id_column=args.id_column,
            task_column=args.task_column,
            split_column=args.split_column,
        )
    raise UnknownComponentError("dataset", name, list(available_datasets()))


def describe(ds: RoutingDataset) -> dict[str, Any]:
    """A JSON-able summary: sizes, splits, per-model mean score/cost, per-task counts."""
    with np.errstate(invalid="ignore"):
        mean_score = np.nanmean(ds.scores, axis=0) if ds.n_prompts else np.full(ds.n_models, np.nan)
    costs = ds.model_costs() if ds.costs is not None else None
    missing = np.isnan(ds.scores).sum(axis=0)
    models = [
        {
            "name": m,
            "mean_score": _round(mean_score[j]),
            "mean_cost": None if costs is None else _round(costs[j], 6),
            "n_missing": int(missing[j]),
        }
        for j, m in enumerate(ds.model_names)
    ]
    tasks = {t: int((ds.tasks == t).sum()) for t in ds.task_names}
    with np.errstate(invalid="ignore"):
        oracle = np.nanmax(np.where(np.isnan(ds.scores), -np.inf, ds.scores), axis=1)
    best = int(np.nanargmax(mean_score)) if np.isfinite(mean_score).any() else None
    return {
        "name": ds.name,
        "n_prompts": ds.n_prompts,
        "n_models": ds.n_models,
        "splits": {k: len(v) for k, v in ds.splits.items()},
        "cost_unit": ds.cost_unit if ds.costs is not None else None,
        "cost_model": ds.metadata.get("cost_model"),
        "best_single_model": None if best is None else ds.model_names[best],
        "oracle_score": _round(float(np.mean(np.maximum(oracle, 0)))) if ds.n_prompts else None,
        "models": models,
        "tasks": tasks,
    }


def _cmd_show(args: argparse.Namespace) -> int:
    ds = _load(args)
    if args.split:
        ds = ds.split(args.split)
    info = describe(ds)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"{info['name']}: {info['n_prompts']} prompts x {info['n_models']} models")
    print(f"splits: {_splits(info['splits'])}")
    print(f"cost unit: {info['cost_unit'] or '(no costs)'}")
    if info["cost_model"]:
        print(f"cost model: {info['cost_model']}")
    print(
        f"best single model: {info['best_single_model']} "
        f"(per-prompt oracle mean score {info['oracle_score']})\n"
    )
    rows = [
        [m["name"], _fmt(m["mean_score"], 4), _fmt(m["mean_cost"], 6), str(m["n_missing"])]
        for m in info["models"]
    ]
    _print_table(["MODEL", "MEAN SCORE", "MEAN COST", "MISSING"], rows, right={1, 2, 3})
    print()
    _print_table(["TASK", "PROMPTS"], [[t, str(c)] for t, c in info["tasks"].items()], right={1})
    return 0


# ---------------------------------------------------------------------------------------- text
def _round(x: float, digits: int = 4) -> float | None:
    return None if not np.isfinite(x) else round(float(x), digits)


def _fmt(x: float | None, digits: int) -> str:
    if x is None:
        return "-"
    if x and abs(x) < 1e-3:  # tiny USD costs: significant digits, not zeros
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def _num(x: int | None) -> str:
    return "-" if x is None else f"{x:,}"


def _splits(splits: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in splits.items()) or "-"


def _print_table(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: frozenset[int] | set[int] = frozenset(),
) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]
    for row in [list(header), *rows]:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
