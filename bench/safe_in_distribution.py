"""Does the safe rule cost anything in distribution? Area on the suites' own test splits, with and
without it, on the same fitted routers.

Each router is fitted once on the suite's training split; the test split is routed with the safe
rule (``safety`` default) and without it (``safety=None``, the router as published; K-NN as
published also has ``prior_strength=0``, a separate fit).

Usage::

    nice -n 10 .venv/bin/python bench/safe_in_distribution.py --out docs/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polyroute.encoders import embed_dataset, make_encoder
from polyroute.evaluation import area_under_curve, deferral_curve, load_suite, single_model_points
from polyroute.evaluation._shift import UNIROUTE_MULTI
from polyroute.routers import make_router

ROUTERS = {
    "knn": ("knn", {}, {"prior_strength": 0, "safety": None}),
    "mlp": ("mlp", {}, None),
    "uniroute-multi": ("uniroute-kmeans", UNIROUTE_MULTI, None),
}


def area(scores: np.ndarray, test, decision: np.ndarray) -> float:
    charged = test.cost_matrix()
    costs, _ = single_model_points(test.scores, charged)
    curve = deferral_curve(scores, test.scores, charged, decision_costs=decision)
    return area_under_curve(curve, cost_min=float(costs.min()), cost_max=float(costs.max()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suites", default="routerbench,mmlu-pro")
    parser.add_argument("--routers", default=",".join(ROUTERS))
    parser.add_argument("--encoder", default="minilm-static")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    enc = make_encoder(args.encoder)
    table: dict[str, dict[str, float]] = {}
    for suite in args.suites.split(","):
        train, tests = load_suite(suite)
        test = tests["test"]
        Xtr, Xte = (
            embed_dataset(train, enc, show_progress=False),
            embed_dataset(test, enc, show_progress=False),
        )
        decision = train.model_costs()
        row: dict[str, float] = {}
        for label in args.routers.split(","):
            name, params, published = ROUTERS[label]
            fit = dict(model_names=list(train.model_names), tasks=list(train.tasks))
            router = make_router(name, **params).fit(Xtr, train.scores, **fit)
            row[f"{label}+safe"] = area(router.predict_scores(Xte), test, decision)
            if published is None:
                plain = router.set_params(safety=None)
            else:
                plain = make_router(name, **{**params, **published}).fit(Xtr, train.scores, **fit)
            row[label] = area(plain.predict_scores(Xte), test, decision)
            print(suite, label, round(row[label], 4), round(row[f"{label}+safe"], 4), flush=True)
        table[suite] = row
    if args.out:
        cmd = "nice -n 10 .venv/bin/python bench/safe_in_distribution.py --out docs/results"
        out = Path(args.out)
        (out / "safe_in_distribution.json").write_text(
            json.dumps({"command": cmd, "encoder": args.encoder, "area": table}, indent=1)
        )
        labels = list(next(iter(table.values())))
        lines = [
            "# The safe rule in distribution (Area on the suites' test splits)",
            "",
            f"Command: `{cmd}`",
            "",
            __doc__.split("\n\n")[1].replace("\n", " ") + f" Encoder `{args.encoder}`.",
            "",
            "| router | " + " | ".join(table) + " |",
            "| --- |" + " ---: |" * len(table),
        ]
        for lab in labels:
            lines.append(f"| {lab} | " + " | ".join(f"{table[s][lab]:.4f}" for s in table) + " |")
        (out / "safe_in_distribution.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
