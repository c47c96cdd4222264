"""``polyroute route "prompt"``: choose a model for one prompt and say why.

::

    polyroute route "Solve 2x + 3 = 7" --router-dir artifacts/knn --cost-weight 0.1
    polyroute route "Write a haiku" --router knn --dataset routerbench --candidates gpt-4-1106-preview,claude-v2
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np

from polyroute.cli._fit import add_file_options
from polyroute.exceptions import ConfigError, DataError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "route",
        help="choose the model for one prompt and explain the choice",
        description="Embed the prompt, predict each model's quality, and choose "
        "argmax(quality − λ·relative cost) among the candidates. Prints the top candidates with predicted "
        "quality, cost and utility (and the prompt's cluster for cluster routers).",
    )
    p.add_argument("prompt", help="the prompt text")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--router-dir", help="a router saved by 'polyroute fit'")
    src.add_argument("--router", help="router registry name, fitted now on --dataset")
    p.add_argument("--dataset", help="dataset to fit --router on (its train split, or all rows)")
    p.add_argument(
        "--param", action="append", default=[], metavar="KEY=VALUE", help="parameter of --router"
    )
    p.add_argument(
        "--cost-weight",
        type=float,
        default=0.0,
        metavar="λ",
        help="quality-cost trade-off λ on relative costs (cost / dearest candidate's), the "
        "gateway's scale: 0.3 = 0.3 of quality is worth the dearest candidate's price "
        "(default 0: quality only)",
    )
    p.add_argument("--candidates", help="comma-separated model names to choose from")
    p.add_argument(
        "--costs",
        help="per-model costs: NAME=COST,... or one number per model in "
        "the router's order (default: the costs saved with the router)",
    )
    p.add_argument("--encoder", help="prompt encoder (default: the one the router was fitted with)")
    p.add_argument("--top", type=int, default=5, help="candidates to show (default 5)")
    p.add_argument("--data-dir", help="routing data directory")
    add_file_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_route)


def _load(args: argparse.Namespace) -> Any:
    from polyroute.cli._fit import (
        excluded_models,
        file_options,
        fit_router,
        load_training_data,
        parse_params,
    )

    if args.router_dir:
        from polyroute.routers import load_router

        return load_router(args.router_dir)
    if not args.dataset:
        raise ConfigError("--router needs --dataset to fit on (or use --router-dir)")
    train = load_training_data(
        args.dataset,
        "train",
        args.data_dir,
        all_if_unsplit=True,
        options=file_options(args),
        exclude_models=excluded_models(args),
    )
    return fit_router(
        args.router, train, encoder=args.encoder or "minilm", params=parse_params(args.param)
    )


def parse_costs(text: str | None, router: Any) -> np.ndarray | None:
    """Costs from ``--costs`` (by name or positional) or the router artifact; ``None`` if none."""
    names = list(router.model_names_)
    if text is None:
        saved = getattr(router, "model_costs_", None)
        if saved is None or np.isnan(np.asarray(saved, dtype=np.float64)).all():
            return None  # fitted without costs: say so rather than print NaN utilities
        return np.asarray(saved, dtype=np.float64)
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        if all("=" in p for p in parts):
            given = {k.strip(): float(v) for k, _, v in (p.partition("=") for p in parts)}
            unknown = sorted(set(given) - set(names))
            if unknown:
                raise DataError(
                    f"--costs names unknown model(s) {unknown}; router knows: {', '.join(names)}"
                )
            missing = [n for n in names if n not in given]
            if missing:
                raise DataError(f"--costs has no cost for {missing}; expected one per model")
            return np.array([given[n] for n in names])
        values = np.array([float(p) for p in parts])
    except ValueError:
        raise DataError(
            f"--costs expects numbers (NAME=COST,... or COST,...); found {text!r}"
        ) from None
    if values.shape != (len(names),):
        raise DataError(
            f"--costs has {values.size} entries; the router has {len(names)} models "
            f"({', '.join(names)})"
        )
    return values


def _cluster(router: Any, X: np.ndarray) -> int | None:
    """The prompt's cluster for cluster-profile routers (UniRoute), else ``None``."""
    public = getattr(router, "predict_clusters", None)
    return int(np.asarray(public(X))[0]) if callable(public) else None


def explain(
    router: Any,
    X: Any,
    *,
    costs: np.ndarray | None,
    cost_weight: float,
    candidates: list[str] | None,
    top: int,
) -> dict[str, Any]:
    """The decision for one prompt with its reasons, as plain data."""
    if router.uses_test_labels:
        raise ConfigError(f"{type(router).__name__} reads test labels; it cannot route new prompts")
    from polyroute.routers import rank, relative_costs, utility

    scores = np.asarray(router.predict_scores(X), dtype=np.float64)[0]
    names = list(router.model_names_)
    if candidates:
        router.model_index(candidates)  # unknown names: a DataError listing the known ones
    allowed = set(candidates) if candidates else set(names)
    mask = np.array([n in allowed for n in names])
    cost = np.zeros(len(names)) if costs is None else costs
    rel = relative_costs(cost, mask)
    order = rank(scores[None, :], rel, cost_weight, candidates=mask)[0]
    util = utility(scores, rel, cost_weight)
    rows = [
        {
            "model": names[i],
            "predicted_quality": round(float(scores[i]), 4),
            "cost": None if costs is None else float(cost[i]),
            "relative_cost": round(float(rel[i]), 4),
            "utility": round(float(util[i]), 4),
        }
        for i in order
        if names[i] in allowed
    ]
    out: dict[str, Any] = {
        "model": rows[0]["model"],
        "cost_weight": cost_weight,
        "rule": "argmax predicted_quality − cost_weight·relative_cost over the candidates "
        "(relative_cost = cost / the dearest candidate's cost)",
        "n_candidates": len(allowed),
        "top": rows[: max(1, top)],
        "encoder": getattr(router, "encoder_", None),
        "router": type(router).__name__,
    }
    if costs is None and cost_weight:
        out["note"] = "no costs known (pass --costs): cost_weight has no effect"
    support, similarity = router.predict_support(X, return_similarity=True)
    out["support"] = round(float(support[0]), 4)
    fallback = router.support_reason(float(support[0]), float(similarity[0]))
    if fallback:
        out["fallback"] = fallback
    if not isinstance(X[0], str):
        cluster = _cluster(router, X)
        if cluster is not None:
            out["cluster"] = cluster
    return out


def _cmd_route(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise ConfigError(f"--top must be >= 1; found {args.top}")
    router = _load(args)
    candidates = [c.strip() for c in args.candidates.split(",")] if args.candidates else None
    if router.input_kind == "text":
        X: Any = np.asarray([args.prompt], dtype=object)
    else:
        from polyroute.encoders import make_encoder

        X = make_encoder(args.encoder or getattr(router, "encoder_", None) or "minilm").encode(
            [args.prompt]
        )
    info = explain(
        router,
        X,
        costs=parse_costs(args.costs, router),
        cost_weight=args.cost_weight,
        candidates=candidates,
        top=args.top,
    )
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    print(f"chosen: {info['model']}")
    print(
        f"why: highest predicted quality − λ·relative cost among {info['n_candidates']} candidate(s), "
        f"λ = {args.cost_weight:g} ({info['router']}, encoder {info['encoder']})"
        + (f"; prompt cluster {info['cluster']}" if "cluster" in info else "")
    )
    if "fallback" in info:
        print(f"support: {info['fallback']}")
    width = max(len(r["model"]) for r in info["top"])
    print(f"  {'model':<{width}}  {'quality':>8}  {'cost':>10}  {'rel.cost':>8}  {'utility':>8}")
    for r in info["top"]:
        mark = "*" if r["model"] == info["model"] else " "
        cost = "—" if r["cost"] is None else f"{r['cost']:.4g}"
        print(
            f"{mark} {r['model']:<{width}}  {r['predicted_quality']:>8.4f}  {cost:>10}  "
            f"{r['relative_cost']:>8.4f}  {r['utility']:>8.4f}"
        )
    if "note" in info:
        print(f"note: {info['note']}")
    return 0
