"""UniRoute's unseen-LLM protocol (arXiv 2502.08773, §6) on our data.

Per trial (seeded): prompts are split 60/10/30 into train/val/test (stratified by task); the LLMs
are split at random into ~2/3 *seen* and ~1/3 *unseen*. Representations (clusters, LearnedMap,
baselines' encoders) see only the seen LLMs' labels on the train prompts; each unseen LLM is
known only through its labels on ``N_val`` validation prompts (a nested random subset of val).
Every method then routes the test prompts **among the unseen LLMs only** (the paper's setting);
decisions use each unseen LLM's mean cost on the train prompts, charges use the true per-query
cost. Area = area under the deferral curve with cost normalised by the cheapest and dearest
unseen LLM's mean test cost; QNC = lowest relative cost reaching the best unseen LLM's accuracy.

``--dev``: evaluate on the val prompts *not* used for profiling instead of the test prompts, with
trial seeds offset by 10,000. The variants of the improved router were chosen with ``--dev``
only; the test prompts were used once, for the final tables.

Usage::

    nice -n 10 .venv/bin/python bench/uniroute_protocol.py --dataset mmlu-pro --trials 100
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.data import RoutingDataset, load_dataset, read_routing_file
from polyroute.encoders import embed_dataset
from polyroute.evaluation import (
    DeferralCurve,
    area_under_curve,
    deferral_curve,
    qnc,
    single_model_points,
    zero_router_hull,
)
from polyroute.routers import make_router

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
DROP = {"mmlu-pro": ["DeepSeek-Coder-V2"]}  # 1,680 missing rows (its result file lacks them)


@dataclass
class Trial:
    """One random split: rows and model columns, and what each method may see."""

    X: np.ndarray
    Y: np.ndarray
    C: np.ndarray
    train: np.ndarray
    val: np.ndarray
    evaluate: np.ndarray
    seen: np.ndarray
    unseen: np.ndarray
    seed: int
    tasks: np.ndarray | None = None  # task of each prompt (no labels); only routerdc-*-tasks
    cache: dict[str, Any] = field(default_factory=dict)

    def decision_costs(self) -> np.ndarray:
        return np.nanmean(self.C[self.train][:, self.unseen], axis=0)


# ---------------------------------------------------------------------------- methods
# A method maps (trial, val rows used) -> predicted quality of the unseen LLMs on the eval rows.
Method = Callable[[Trial, np.ndarray], np.ndarray]


def _uniroute(name: str, **params: Any) -> Method:
    def run(t: Trial, val: np.ndarray) -> np.ndarray:
        key = f"{name}:{sorted(params.items())}"
        if params.get("n_onboard_prompts") == "nval":
            key += f":{len(val)}"  # the automatic choices depend on N_val
        if key not in t.cache:  # the representation does not depend on the unseen LLMs
            p = {k: (len(val) if v == "nval" else v) for k, v in params.items()}
            router = make_router(name, random_state=t.seed, **p)
            router.fit(t.X[t.train], t.Y[t.train][:, t.seen], model_names=[f"s{i}" for i in t.seen])
            t.cache[key] = router
        router = _copy(t.cache[key])
        router.add_models(t.X[val], t.Y[val][:, t.unseen], [f"u{i}" for i in t.unseen])
        return router.predict_scores(t.X[t.evaluate])[:, len(t.seen) :]

    return run


def _copy(router: Any) -> Any:
    clone = router.__class__(**router.get_params())
    clone.__dict__.update(
        {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in router.__dict__.items()}
    )
    return clone


def _routerdc(**params: Any) -> Method:
    """RouterDC (frozen encoder = the trial's X): head + seen LLMs' embeddings trained on the
    train prompts with the seen LLMs' labels; each unseen LLM's embedding and calibration fitted
    by ``add_models`` on the N_val prompts. ``prior_weight`` only enters ``predict_scores``, so
    the variants share one fit per trial. ``use_tasks``: the train prompts' task names become
    the training clusters (``cluster_source="auto"``); otherwise K-means on X, as UniRoute."""
    weight = params.pop("prior_weight", 0.0)
    use_tasks = params.pop("use_tasks", False)

    def run(t: Trial, val: np.ndarray) -> np.ndarray:
        key = f"routerdc:{use_tasks}:{sorted(params.items())}"
        if key not in t.cache:  # the representation does not depend on the unseen LLMs
            router = make_router("routerdc", random_state=t.seed, show_progress=False, **params)
            tasks = t.tasks[t.train] if use_tasks and t.tasks is not None else None
            router.fit(
                t.X[t.train],
                t.Y[t.train][:, t.seen],
                model_names=[f"s{i}" for i in t.seen],
                tasks=tasks,
            )
            t.cache[key] = router
        router = _copy(t.cache[key]).set_params(prior_weight=weight)
        router.add_models(t.X[val], t.Y[val][:, t.unseen], [f"u{i}" for i in t.unseen])
        return router.predict_scores(t.X[t.evaluate])[:, len(t.seen) :]

    return run


def _on_val(name: str, **params: Any) -> Method:
    """A router fitted on the N_val validation prompts' unseen-LLM labels (K-NN, retrained MLP)."""

    def run(t: Trial, val: np.ndarray) -> np.ndarray:
        router = make_router(name, **params)
        router.fit(t.X[val], t.Y[val][:, t.unseen], model_names=[f"u{i}" for i in t.unseen])
        return router.predict_scores(t.X[t.evaluate])

    return run


def _val_mean(t: Trial, val: np.ndarray) -> np.ndarray:
    """Diagnostic: each unseen LLM's mean accuracy on the N_val prompts, the same for every
    prompt (a ZeroRouter that must estimate the accuracies instead of knowing them)."""
    mean = np.nanmean(t.Y[val][:, t.unseen], axis=0)
    return np.broadcast_to(mean, (len(t.evaluate), len(t.unseen))).copy()


def _clairvoyant(t: Trial, val: np.ndarray) -> np.ndarray:
    """MLP trained with the unseen LLMs' labels on all train + val prompts (upper bound)."""
    if "clairvoyant" not in t.cache:
        rows = np.concatenate([t.train, t.val])
        router = make_router("mlp", random_state=t.seed)
        router.fit(t.X[rows], t.Y[rows][:, t.unseen], model_names=[f"u{i}" for i in t.unseen])
        t.cache["clairvoyant"] = router.predict_scores(t.X[t.evaluate])
    return np.asarray(t.cache["clairvoyant"])


METHODS: dict[str, Method] = {
    "knn": _on_val("knn", n_neighbors="auto"),
    "mlp-retrained": _on_val("mlp", random_state=0),
    # the paper's UniRoute: K-means, hard assignment, Laplace smoothing towards 0.5, K on val
    "uniroute-paper": _uniroute(
        "uniroute-kmeans", n_clusters="auto", smoothing="laplace", n_onboard_prompts=400
    ),
    # ablations of the improvement: shrinkage alone, then + soft assignment
    "uniroute-shrink": _uniroute(
        "uniroute-kmeans", n_clusters="auto", smoothing="shrink", n_onboard_prompts=400
    ),
    "uniroute-shrink-soft": _uniroute(
        "uniroute-kmeans",
        n_clusters="auto",
        smoothing="shrink",
        assignment="soft",
        n_onboard_prompts=400,
    ),
    "uniroute-multi": _uniroute(
        "uniroute-kmeans",
        n_clusters="multi",
        smoothing="shrink",
        assignment="soft",
        n_onboard_prompts=400,
    ),
    "uniroute-hier-soft": _uniroute(
        "uniroute-kmeans",
        n_clusters="auto",
        smoothing="hierarchical",
        assignment="soft",
        n_onboard_prompts=400,
    ),
    # LearnedMap: the paper's (log-loss, Laplace) and ours (centred objective, shrinkage)
    "learnedmap": _uniroute("uniroute-learnedmap", n_clusters=16, smoothing="laplace", max_iter=80),
    "learnedmap-centred": _uniroute(
        "uniroute-learnedmap", n_clusters=16, smoothing="shrink", objective="centred", max_iter=80
    ),
    # RouterDC's new-LLM path: the paper's rule (similarity only) and + our cluster prior
    "routerdc": _routerdc(prior_weight=0.0),
    "routerdc-prior": _routerdc(prior_weight=1.0),
    "routerdc-tasks": _routerdc(prior_weight=0.0, use_tasks=True),  # + the prompts' task names
    "routerdc-prior-tasks": _routerdc(prior_weight=1.0, use_tasks=True),
    "clairvoyant-mlp": _clairvoyant,
    "val-mean": _val_mean,
}


# ---------------------------------------------------------------------------- metrics
def _scores(t: Trial, pred: np.ndarray | None) -> dict[str, float]:
    Y = t.Y[t.evaluate][:, t.unseen]
    C = t.C[t.evaluate][:, t.unseen]
    costs, quals = single_model_points(Y, C)
    cmin, cmax = float(costs.min()), float(costs.max())
    best = int(np.lexsort((costs, -quals))[0])
    if pred is None:  # ZeroRouter: the hull of the single models
        hc, hq = zero_router_hull(Y, C)
        curve = DeferralCurve(np.zeros(len(hc)), hc, hq, np.zeros((len(hc), 0), dtype=np.int64))
    else:
        curve = deferral_curve(pred, Y, C, decision_costs=t.decision_costs())
    return {
        "area": area_under_curve(curve, cost_min=cmin, cost_max=cmax),
        "qnc": qnc(curve, target_quality=float(quals[best]), reference_cost=float(costs[best])),
    }


# ---------------------------------------------------------------------------- trials
def make_trial(ds: RoutingDataset, X: np.ndarray, seed: int, *, dev: bool, n_val_max: int) -> Trial:
    rng = np.random.default_rng(seed)
    split = ds.random_split({"train": 0.6, "val": 0.1, "test": 0.3}, seed=seed)
    val = rng.permutation(split.splits["val"])
    m = ds.n_models
    perm = rng.permutation(m)
    n_unseen = max(1, round(m / 3))
    seen, unseen = np.sort(perm[n_unseen:]), np.sort(perm[:n_unseen])
    evaluate = val[n_val_max:] if dev else split.splits["test"]
    return Trial(
        X,
        ds.scores,
        ds.cost_matrix(),
        split.splits["train"],
        val[:n_val_max],
        evaluate,
        seen,
        unseen,
        seed,
        np.asarray(ds.tasks),
    )


def run_trial(t: Trial, n_vals: list[int], methods: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {"seed": t.seed, "unseen": t.unseen.tolist(), "results": {}}
    Y = t.Y[t.evaluate][:, t.unseen]
    for n_val in n_vals:
        val = t.val[:n_val]
        res = {"zero-router": _scores(t, None), "oracle": _scores(t, np.nan_to_num(Y))}
        timing = {}
        for name in methods:
            start = time.perf_counter()
            res[name] = _scores(t, METHODS[name](t, val))
            timing[name] = time.perf_counter() - start
        out["results"][str(n_val)] = res
        out.setdefault("time_s", {})[str(n_val)] = timing
    return out


def load(
    name: str, encoder: str = "minilm", task_column: str | None = None
) -> tuple[RoutingDataset, np.ndarray]:
    """A named dataset or a routing file (CSV/JSONL/Parquet, docs/data.md) and its embeddings."""
    if Path(name).suffix and Path(name).is_file():
        ds = read_routing_file(name, task_column=task_column)
    else:
        ds = load_dataset(name)
    X = embed_dataset(ds, encoder)
    drop = [m for m in DROP.get(name, []) if m in ds.model_names]
    if drop:
        ds = ds.select_models([m for m in ds.model_names if m not in drop])
    return ds, X


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mmlu-pro", help="a dataset name or a routing file")
    parser.add_argument("--task-column", help="(routing files) column holding the task")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0, help="run seeds first..first+trials-1")
    parser.add_argument("--n-val", default="100,200,400", help="comma-separated N_val values")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--dev", action="store_true", help="evaluate on unused val prompts")
    parser.add_argument("--encoder", default="minilm", help="embedding model (cached)")
    parser.add_argument("--out", help="JSONL of per-trial results (appended; resumable)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    ds, X = load(args.dataset, args.encoder, args.task_column)
    n_vals = [int(v) for v in args.n_val.split(",")]
    methods = [m for m in args.methods.split(",") if m]
    out = Path(
        args.out
        or RESULTS / f"uniroute_{Path(args.dataset).stem}{'_dev' if args.dev else ''}.trials.jsonl"
    )
    done = set()
    if out.exists():
        done = {json.loads(line)["seed"] for line in out.read_text().splitlines() if line}
    offset = (10_000 if args.dev else 0) + args.first_seed
    n_val_max = max(n_vals)
    for seed in range(offset, offset + args.trials):
        if seed in done:
            continue
        trial = make_trial(ds, X, seed, dev=args.dev, n_val_max=n_val_max)
        n_here = sorted({min(v, len(trial.val)) for v in n_vals})  # RouterBench: val < 400
        rec = run_trial(trial, n_here, methods)
        with out.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        best = {k: round(v["area"], 4) for k, v in rec["results"][str(max(n_here))].items()}
        print(seed, best, flush=True)


if __name__ == "__main__":
    main()
