"""Choose RouterDC's cluster-prior weight by cross-validation on the TRAINING split only.

    nice -n 10 .venv/bin/python bench/routerdc_select.py --folds 5 --out-dir docs/results

For each of ``--folds`` task-stratified folds of the RouterDC training split, one frozen-encoder
RouterDC (cluster_source="tasks") is trained on the other folds; every prior weight of the grid is
then scored on the held-out fold (the weight only changes ``predict_scores``, not training).
Reports per-task CV accuracy per weight and the weight with the best mean ID accuracy; the test
and OOD splits are never read. Writes ``routerdc_selection.{json,md}`` (``routerdc_selection_<encoder>.*`` for another encoder).

``--protocol loto`` (leave one task out) is the out-of-distribution counterpart, still on TRAIN
only: each fold holds out one whole training task, so the router must route a task it never saw
(as the OOD test sets ask). It writes ``routerdc_selection_loto.{json,md}`` and does not change
the chosen weight (the task prior is meant for traffic that resembles the training tasks; this
shows what it costs when traffic does not).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routerdc_common import ID_TASKS, TASK_LABELS, cv_folds, load_benchmark, task_accuracy

from polyroute.routers import make_router

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)
DESCRIPTION = {
    "cv": "{folds}-fold task-stratified CV",
    "loto": "Leave-one-task-out (each column: that task held out, never trained on)",
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument(
        "--target",
        choices=["soft", "hard"],
        default="soft",
        help="rank LLMs by soft_scores (MC probabilities) or by the evaluation scores",
    )
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument(
        "--protocol",
        choices=["cv", "loto"],
        default="cv",
        help="task-stratified k-fold CV, or leave one training task out",
    )
    ap.add_argument("--out-dir", default="docs/results")
    args = ap.parse_args(argv)
    ds, X = load_benchmark(args.encoder, split="train")
    tr = ds.splits["train"]
    tasks = ds.tasks[tr]
    per_weight: dict[float, list[dict[str, float]]] = {w: [] for w in WEIGHTS}
    start = time.perf_counter()
    folds = (
        cv_folds(tasks, args.folds, seed=0)
        if args.protocol == "cv"
        else [np.flatnonzero(tasks == t) for t in ID_TASKS]
    )
    for k, fold in enumerate(folds):
        fit_rows = tr[np.setdiff1d(np.arange(len(tr)), fold)]
        router = make_router(
            "routerdc",
            cluster_source="tasks",
            n_steps=args.steps,
            random_state=k,
            show_progress=False,
        )
        soft = ds.soft_scores[fit_rows] if args.target == "soft" else None
        router.fit(
            X[fit_rows],
            ds.scores[fit_rows],
            model_names=ds.model_names,
            tasks=ds.tasks[fit_rows],
            soft_scores=soft,
        )
        for w in WEIGHTS:
            router.set_params(prior_weight=w)
            choice = router.route(X[tr[fold]])
            per_weight[w].append(task_accuracy(choice, ds.scores[tr[fold]], tasks[fold]))
        print(
            f"fold {k + 1}/{len(folds)} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr
        )
    table = {}
    for w, accs in per_weight.items():
        mean = {t: float(np.mean([a[t] for a in accs if t in a])) for t in ID_TASKS}
        table[w] = {**mean, "id": float(np.mean(list(mean.values())))}
    best = max(table, key=lambda w: table[w]["id"])
    stem = (
        "routerdc_selection"
        + ("" if args.protocol == "cv" else "_loto")
        + ("" if args.encoder == "minilm" else f"_{args.encoder}")
    )
    out = {
        "protocol": args.protocol,
        "folds": len(folds),
        "steps": args.steps,
        "target": args.target,
        "encoder": args.encoder,
        "cv_accuracy": {str(w): v for w, v in table.items()},
        "best_prior_weight": best,
        "seconds": time.perf_counter() - start,
    }
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{stem}.json").write_text(json.dumps(out, indent=2))
    cmd = "nice -n 10 .venv/bin/python bench/routerdc_select.py " + " ".join(argv or sys.argv[1:])
    lines = [
        f"`{cmd.strip()}`",
        "",
        (
            DESCRIPTION[args.protocol].format(folds=args.folds)
            + " on the RouterDC **training** split "
            f"(frozen {args.encoder}, cluster_source=tasks, {args.steps} steps, LLMs ranked by "
            f"{args.target} scores). "
            "Accuracy (%) on the held-out folds by prior weight; test/OOD never read."
        ),
        "",
        "| prior weight | "
        + " | ".join(TASK_LABELS[t] for t in ID_TASKS)
        + (" | ID avg |" if args.protocol == "cv" else " | mean of held-out tasks |"),
        "|---|" + "---:|" * (len(ID_TASKS) + 1),
    ]
    for w, row in table.items():
        mark = "" if w != best else " **(chosen)**" if args.protocol == "cv" else " (best)"
        lines.append(
            f"| {w}{mark} | "
            + " | ".join(f"{row[t]:.2f}" for t in ID_TASKS)
            + f" | {row['id']:.2f} |"
        )
    (out_dir / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(json.dumps({"best_prior_weight": best, "cv_id": table[best]["id"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
