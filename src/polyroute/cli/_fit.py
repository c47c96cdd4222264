"""``polyroute fit``: fit any registered router on a dataset split and save it as plain files.

::

    polyroute fit knn --dataset routerdc --split train --out artifacts/knn
    polyroute fit mlp --dataset my_scores.csv --split all --param hidden_layer_sizes=[128] --out r/
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.exceptions import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "fit",
        help="fit a router on a dataset and save it (router.json + arrays.npz)",
        description="Fit a registered router on one split of a dataset (prompts are embedded "
        "with --encoder through the on-disk cache; text routers get the prompts) and save it. "
        "The artifact records the encoder and the pool's mean cost per model.",
    )
    p.add_argument("router", metavar="ROUTER", help="router registry name, e.g. knn, mlp")
    p.add_argument("--dataset", required=True, help="dataset name or routing file")
    p.add_argument(
        "--split",
        help="split to fit on; 'all' = every row (default: 'train', or "
        "every row when the dataset has no splits)",
    )
    p.add_argument("--encoder", default="minilm", help="prompt encoder (default: minilm)")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="router parameter (value parsed as JSON), e.g. n_neighbors=50",
    )
    add_file_options(p)
    p.add_argument("--data-dir", help="routing data directory")
    p.add_argument("--out", required=True, help="folder to save the router into")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_cmd_fit)


def add_file_options(p: argparse.ArgumentParser) -> None:
    """Column options for routing files in the generic format (see docs/data.md), and the pool."""
    p.add_argument("--prompt-column", default="prompt", help="(routing files) prompt column")
    p.add_argument("--id-column", help="(routing files) column holding unique prompt ids")
    p.add_argument("--task-column", help="(routing files) column holding the task")
    p.add_argument("--split-column", help="(routing files) column holding the split")
    p.add_argument(
        "--exclude-models",
        action="append",
        default=[],
        metavar="MODEL,...",
        help="leave these models out of the pool, e.g. one with no training result; repeatable",
    )


def file_options(args: argparse.Namespace) -> dict[str, Any]:
    opts = {
        "prompt_column": args.prompt_column,
        "id_column": args.id_column,
        "task_column": args.task_column,
        "split_column": args.split_column,
    }
    return {k: v for k, v in opts.items() if v}


def excluded_models(args: argparse.Namespace) -> tuple[str, ...]:
    """``--exclude-models a,b --exclude-models c`` -> ``("a", "b", "c")``."""
    names = (n.strip() for item in args.exclude_models for n in item.split(","))
    return tuple(dict.fromkeys(n for n in names if n))


def parse_params(items: list[str]) -> dict[str, Any]:
    """``["k=50", "name=x"]`` -> ``{"k": 50, "name": "x"}`` (values parsed as JSON if possible)."""
    out: dict[str, Any] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        if not eq or not key:
            raise ConfigError(f"--param expects KEY=VALUE (e.g. n_neighbors=50); found {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def load_training_data(
    dataset: str,
    split: str,
    data_dir: str | None,
    *,
    all_if_unsplit: bool = False,
    options: dict[str, Any] | None = None,
    exclude_models: tuple[str, ...] = (),
) -> Any:
    """The rows of ``split`` ('all' = every row) of a named dataset or a routing file
    (every row when the dataset has no splits and ``all_if_unsplit``), without
    ``exclude_models``; every model left must have a training result."""
    from polyroute.data import load_dataset, read_routing_file
    from polyroute.evaluation._suites import require_training_results, without_models

    path = Path(dataset)
    ds = (
        read_routing_file(path, **(options or {}))
        if path.suffix and path.is_file()
        else load_dataset(dataset, data_dir=data_dir)
    )
    ds = without_models(ds, exclude_models)
    if split == "all" or (all_if_unsplit and not ds.splits):
        train = ds.subset(np.arange(ds.n_prompts), name=f"{ds.name}:all")
    else:
        train = ds.split(split)
    require_training_results(train)
    return train


def fit_router(
    name: str,
    train: Any,
    *,
    encoder: str,
    params: dict[str, Any],
    show_progress: bool | None = None,
) -> Any:
    """Build ``name`` with ``params``, fit it on ``train`` and record ``encoder_``/costs."""
    from polyroute.routers import make_router

    router = make_router(name, **params)
    if router.uses_test_labels:
        raise ConfigError(
            f"router {name!r} reads the test labels (an evaluation upper bound); "
            "it cannot be fitted for routing — use 'polyroute eval' instead"
        )
    if router.input_kind == "text":
        X: Any = np.asarray(train.prompts, dtype=object)
    else:
        from polyroute.encoders import embed_dataset, make_encoder

        X = embed_dataset(train, make_encoder(encoder), show_progress=show_progress)
    router.fit(X, train.scores, model_names=list(train.model_names), tasks=list(train.tasks))
    router.encoder_ = "text" if router.input_kind == "text" else encoder
    if train.costs is not None:
        # Routers that keep per-model costs start them unknown (NaN); fill in the pool's.
        known = train.model_costs()
        saved = getattr(router, "model_costs_", None)
        router.model_costs_ = known if saved is None else np.where(np.isnan(saved), known, saved)
    if not hasattr(router, "cost_unit_"):
        router.cost_unit_ = train.cost_unit if train.costs is not None else None
    return router


def _cmd_fit(args: argparse.Namespace) -> int:
    split = args.split or "train"
    train = load_training_data(
        args.dataset,
        split,
        args.data_dir,
        all_if_unsplit=args.split is None,
        options=file_options(args),
        exclude_models=excluded_models(args),
    )
    start = time.perf_counter()
    router = fit_router(
        args.router,
        train,
        encoder=args.encoder,
        params=parse_params(args.param),
        show_progress=False if args.no_progress else None,
    )
    path = router.save(args.out)
    print(
        f"fitted {args.router} on {train.name} ({train.n_prompts:,} prompts, "
        f"{train.n_models} models, encoder {router.encoder_}) in "
        f"{time.perf_counter() - start:.1f} s; saved to {path}",
        file=sys.stderr,
    )
    return 0
