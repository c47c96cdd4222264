"""Choose the safe rule's knob (``safety``) leave-one-task-out on *training rows only*.

For every dataset of the shift suite, only its training rows are used: each training task in turn is
held out, K-NN (the cheapest learned router; its fit includes its own CV) is fitted on the other
tasks' training rows with each candidate ``safety`` and routes the held-out task's *training* rows.
The default is the value with the smallest worst-case λ = 0 regret over all held-out tasks of all
datasets (ties: smallest mean regret, then the smallest value — the least fallback). No test row of
any split is read.

Usage::

    nice -n 10 .venv/bin/python bench/shift_select.py --out docs/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polyroute.encoders import embed_dataset, make_encoder
from polyroute.evaluation._shift import SHIFT_DATASETS, ShiftRouter, load_shift_dataset, run_shift

GRID = (0.5, 0.75, 0.9, 0.95, 0.99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="minilm-static")
    parser.add_argument("--datasets", default=",".join(SHIFT_DATASETS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    enc = make_encoder(args.encoder)
    routers = [ShiftRouter(f"knn@{s}", "knn", {"safety": s}) for s in GRID]
    table: dict[str, dict[str, dict[str, float | None]]] = {}
    regrets: dict[float, list[float]] = {s: [] for s in GRID}
    for name in args.datasets.split(","):
        ds, train = load_shift_dataset(name)
        X = embed_dataset(ds, enc, show_progress=False)
        sub = ds.subset(train, name=f"{ds.name}:train")
        res = run_shift(sub, X[train], np.arange(len(train)), routers=routers, encoder=args.encoder)
        table[name] = res.summary()
        for s in GRID:
            regrets[s] += [t.regret[f"knn@{s}+safe"] for t in res.tasks]
        print(name, {k: v for k, v in table[name].items() if k.endswith("+safe")}, flush=True)
    best = min(GRID, key=lambda s: (max(regrets[s]), float(np.mean(regrets[s])), s))
    overall = {
        str(s): {"mean_regret": float(np.mean(r)), "worst_regret": float(np.max(r))}
        for s, r in regrets.items()
    }
    print("chosen safety:", best, overall)
    if args.out:
        out = Path(args.out)
        cmd = "nice -n 10 .venv/bin/python bench/shift_select.py --out docs/results"
        (out / "shift_select.json").write_text(
            json.dumps(
                {"command": cmd, "chosen": best, "overall": overall, "datasets": table}, indent=1
            )
        )
        lines = [
            "# Choosing `safety` leave-one-task-out on training rows",
            "",
            f"Command: `{cmd}`",
            "",
            __doc__.split("\n\n")[1].replace("\n", " "),
            "",
            f"**Chosen: safety = {best}.**",
            "",
            "| safety | "
            + " | ".join(f"{d} mean / worst" for d in table)
            + " | all: mean / worst |",
            "| ---: |" + " ---: |" * (len(table) + 1),
        ]
        for s in GRID:
            cells = [
                f"{table[d][f'knn@{s}+safe']['mean_regret']:+.2f} / "
                f"{table[d][f'knn@{s}+safe']['worst_regret']:+.2f}"
                for d in table
            ]
            o = overall[str(s)]
            lines.append(
                f"| {s} | "
                + " | ".join(cells)
                + f" | {o['mean_regret']:+.2f} / {o['worst_regret']:+.2f} |"
            )
        first = next(iter(table.values()))
        plain = [
            f"{table[d]['knn@0.5']['mean_regret']:+.2f} / {table[d]['knn@0.5']['worst_regret']:+.2f}"
            for d in table
        ]
        lines.append("| off (K-NN with its prior, no support) | " + " | ".join(plain) + " | |")
        del first
        (out / "shift_select.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
