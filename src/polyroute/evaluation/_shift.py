"""The shift suite: leave-one-task-out, so every router is scored on a task it never saw.

For each dataset and each task ``t``: every router is fitted on the *training* rows of the other
tasks and routes every row of ``t``. Per router it reports the λ = 0 **regret** (accuracy points)
against the best single model chosen on those training rows (the model a user would call without a
router), and the Area under the deferral curve on ``t`` where the dataset has costs; then the mean
and the worst case over tasks. Each learned router is reported twice: as published (``safety``
off) and with the safe rule (``+safe``: :meth:`polyroute.routers.BaseRouter.predict_scores`) — the
same fitted model, only the scores differ. K-NN as published also breaks ties without its prior
(``prior_strength=0``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.data import RoutingDataset, load_dataset, read_routing_file
from polyroute.evaluation._metrics import area_under_curve, deferral_curve, single_model_points
from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter, make_router

Array = np.ndarray
SHIFT_DATASETS = ("routerdc", "mmlu-pro", "routerbench", "llmrouter")
#: Training rows per fold (a seeded sample): keeps the suite within minutes on 2 CPU cores.
MAX_TRAIN_ROWS = 2000
#: The shipped default router's settings (bench/uniroute_artifact.py).
UNIROUTE_MULTI = {
    "n_clusters": "multi",
    "smoothing": "shrink",
    "assignment": "soft",
    "cluster_grid": (4, 8, 16, 32),
}


@dataclass(frozen=True)
class ShiftRouter:
    """A router of the suite: a label, a registry name and its parameters."""

    label: str
    registry: str
    params: dict[str, Any] = field(default_factory=dict)
    #: Parameters of the "as published" variant when it needs its own fit (else safety=None).
    published: dict[str, Any] | None = None


SHIFT_ROUTERS: tuple[ShiftRouter, ...] = (
    ShiftRouter("knn", "knn", published={"prior_strength": 0, "safety": None}),
    ShiftRouter("mlp", "mlp"),
    ShiftRouter("uniroute-kmeans", "uniroute-kmeans", {"n_clusters": "auto"}),
    ShiftRouter("uniroute-multi", "uniroute-kmeans", dict(UNIROUTE_MULTI)),
    ShiftRouter("routerdc", "routerdc", {"show_progress": False}),
)


@dataclass
class TaskResult:
    """Every router on one held-out task."""

    task: str
    n_train: int
    n_test: int
    best_single: str
    best_single_accuracy: float
    regret: dict[str, float] = field(default_factory=dict)  # points, λ = 0
    accuracy: dict[str, float] = field(default_factory=dict)
    area: dict[str, float] = field(default_factory=dict)
    mean_support: dict[str, float] = field(default_factory=dict)


@dataclass
class ShiftResult:
    """One dataset of the shift suite."""

    dataset: str
    encoder: str
    tasks: list[TaskResult]
    fit_time_s: dict[str, float]

    def routers(self) -> list[str]:
        return list(self.tasks[0].regret) if self.tasks else []

    def summary(self) -> dict[str, dict[str, float | None]]:
        out: dict[str, dict[str, float | None]] = {}
        for r in self.routers():
            reg = [t.regret[r] for t in self.tasks]
            areas = [t.area[r] for t in self.tasks if r in t.area]
            out[r] = {
                "mean_regret": float(np.mean(reg)),
                "worst_regret": float(np.max(reg)),
                "mean_area": float(np.mean(areas)) if areas else None,
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "encoder": self.encoder,
            "fit_time_s": {k: round(v, 2) for k, v in self.fit_time_s.items()},
            "summary": self.summary(),
            "tasks": [vars(t) for t in self.tasks],
        }


def load_shift_dataset(
    name: str,
    *,
    file_options: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
) -> tuple[RoutingDataset, Array]:
    """A dataset and its training rows (mmlu-pro: the 60% train part of the mmlu-pro suite's
    seeded split; a file without splits: every row)."""
    if Path(name).suffix and Path(name).is_file():
        ds = read_routing_file(name, **(file_options or {}))
    else:
        ds = load_dataset(name, data_dir=data_dir)
    if not ds.splits and name == "mmlu-pro":
        ds = ds.random_split({"train": 0.6, "val": 0.1, "test": 0.3}, seed=0)
    train = np.asarray(ds.splits["train"]) if "train" in ds.splits else np.arange(ds.n_prompts)
    if len(ds.task_names) < 2:
        raise DataError(
            f"the shift suite holds out one task at a time; {ds.name!r} has "
            f"{len(ds.task_names)} task(s) (pass --task-column for a routing file)"
        )
    return ds, np.sort(train)


def run_shift(
    ds: RoutingDataset,
    X: Array,
    train_rows: Array,
    *,
    routers: Sequence[ShiftRouter] = SHIFT_ROUTERS,
    encoder: str = "",
    max_train_rows: int | None = MAX_TRAIN_ROWS,
    progress: Callable[[str], None] | None = None,
    on_task: Callable[[TaskResult], None] | None = None,
) -> ShiftResult:
    """Leave-one-task-out over ``ds`` (embeddings ``X`` aligned with its rows).

    ``max_train_rows``: each fold fits on at most this many of its training rows (a seeded random
    sample), so the suite runs in minutes on 2 cores; None = all.
    """
    tasks = np.asarray(ds.tasks).astype(str)
    charged = ds.cost_matrix()
    has_costs = ds.costs is not None
    fit_time: dict[str, float] = {}
    results: list[TaskResult] = []
    for task in ds.task_names:
        fit_rows = train_rows[tasks[train_rows] != task]
        if max_train_rows is not None and len(fit_rows) > max_train_rows:
            pick = np.random.default_rng(len(results)).choice(len(fit_rows), max_train_rows, False)
            fit_rows = np.sort(fit_rows[pick])
        test_rows = np.flatnonzero(tasks == task)
        if len(fit_rows) == 0 or len(test_rows) == 0:
            continue
        Y_fit, Y_test = ds.scores[fit_rows], ds.scores[test_rows]
        with np.errstate(invalid="ignore"):
            best = int(np.nanargmax(np.nanmean(Y_fit, axis=0)))
        _, test_quality = single_model_points(Y_test, charged[test_rows])
        res = TaskResult(
            task=str(task),
            n_train=len(fit_rows),
            n_test=len(test_rows),
            best_single=ds.model_names[best],
            best_single_accuracy=100 * float(test_quality[best]),
        )
        decision = _mean_costs(charged[fit_rows]) if has_costs else None
        cost_range = (
            float(charged[test_rows].mean(0).min()),
            float(charged[test_rows].mean(0).max()),
        )
        for spec in routers:
            for label, scores, support in _variants(
                spec, X, ds, fit_rows, test_rows, tasks, fit_time
            ):
                _score(res, label, scores, Y_test, charged[test_rows], decision, cost_range)
                res.mean_support[label] = float(np.mean(support))
        zero = np.tile(np.nanmean(Y_fit, axis=0), (len(test_rows), 1))
        _score(
            res,
            "zero-router",
            np.nan_to_num(zero),
            Y_test,
            charged[test_rows],
            decision,
            cost_range,
        )
        results.append(res)
        if on_task:
            on_task(res)
        if progress:
            progress(f"{ds.name}: held out {task}")
    return ShiftResult(dataset=ds.name, encoder=encoder, tasks=results, fit_time_s=fit_time)


def _variants(
    spec: ShiftRouter,
    X: Array,
    ds: RoutingDataset,
    fit_rows: Array,
    test_rows: Array,
    tasks: Array,
    fit_time: dict[str, float],
) -> list[tuple[str, Array, Array]]:
    """(label, scores, support) of the router as published and with the safe rule."""
    safe = _fit(spec.registry, spec.params, X, ds, fit_rows, tasks, fit_time, spec.label)
    scores, support = safe.predict_scores(X[test_rows], return_support=True)
    if spec.published is None:
        published = safe.set_params(safety=None)
        plain = published.predict_scores(X[test_rows])
        safe.set_params(safety=spec.params.get("safety", _default_safety()))
    else:
        params = {**spec.params, **spec.published}
        plain = _fit(
            spec.registry, params, X, ds, fit_rows, tasks, fit_time, spec.label
        ).predict_scores(X[test_rows])
    return [(spec.label, plain, np.ones(len(test_rows))), (f"{spec.label}+safe", scores, support)]


def _default_safety() -> float:
    from polyroute.routers._support import DEFAULT_SAFETY

    return DEFAULT_SAFETY


def _fit(
    registry: str,
    params: dict[str, Any],
    X: Array,
    ds: RoutingDataset,
    rows: Array,
    tasks: Array,
    fit_time: dict[str, float],
    label: str,
) -> BaseRouter:
    router = make_router(registry, **params)
    if "random_state" in router.get_params() and router.get_params()["random_state"] is None:
        router.set_params(random_state=0)
    start = time.perf_counter()
    router.fit(X[rows], ds.scores[rows], model_names=list(ds.model_names), tasks=list(tasks[rows]))
    fit_time[label] = fit_time.get(label, 0.0) + time.perf_counter() - start
    return router


def _mean_costs(charged: Array) -> Array:
    with np.errstate(invalid="ignore"):
        return np.asarray(np.nan_to_num(np.nanmean(charged, axis=0), nan=0.0))


def _score(
    res: TaskResult,
    label: str,
    scores: Array,
    Y: Array,
    charged: Array,
    decision: Array | None,
    cost_range: tuple[float, float],
) -> None:
    lambdas = None if decision is not None else [0.0]
    curve = deferral_curve(scores, Y, charged, decision_costs=decision, cost_weights=lambdas)
    acc = 100 * float(curve.qualities[0])
    res.accuracy[label] = acc
    res.regret[label] = res.best_single_accuracy - acc
    if decision is not None and cost_range[1] > cost_range[0]:
        res.area[label] = area_under_curve(curve, cost_min=cost_range[0], cost_max=cost_range[1])


def to_markdown(results: Sequence[ShiftResult], *, command: str) -> str:
    """The shift suite's report: one summary table per dataset, then the per-task regrets."""
    lines = [
        "# Shift suite: leave one task out",
        "",
        "Command:",
        "",
        f"```bash\n{command}\n```",
        "",
        (__doc__ or "").split("\n\n", 1)[1].strip().replace("\n", " "),
        "",
        "Regret is in accuracy points at λ = 0 (positive = worse than the best single model chosen "
        "on the training rows); *worst* is the largest regret over held-out tasks. Area is the "
        "mean over tasks of the area under the deferral curve on the held-out task (datasets "
        "with costs).",
    ]
    for res in results:
        summary = res.summary()
        lines += [
            "",
            f"## {res.dataset} ({len(res.tasks)} tasks, encoder `{res.encoder}`)",
            "",
            "| router | mean regret | worst regret | mean Area | fit time (s, all folds) |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for r, s in summary.items():
            area = "—" if s["mean_area"] is None else f"{s['mean_area']:.4f}"
            ft = res.fit_time_s.get(r.removesuffix("+safe"))
            ft_txt = "" if ft is None or r.endswith("+safe") else f"{ft:.1f}"
            lines.append(
                f"| {r} | {s['mean_regret']:+.2f} | {s['worst_regret']:+.2f} | {area} | {ft_txt} |"
            )
        routers = res.routers()
        lines += [
            "",
            "| held-out task | n | best single (train) | acc | " + " | ".join(routers) + " |",
            "| --- | ---: | --- | ---: |" + " ---: |" * len(routers),
        ]
        for t in res.tasks:
            cells = " | ".join(f"{t.regret[r]:+.2f}" for r in routers)
            lines.append(
                f"| {t.task} | {t.n_test} | {t.best_single} | {t.best_single_accuracy:.2f} | {cells} |"
            )
    return "\n".join(lines) + "\n"


def run_shift_suite(
    datasets: Sequence[str] = SHIFT_DATASETS,
    *,
    routers: Sequence[ShiftRouter] = SHIFT_ROUTERS,
    encoder: str = "minilm-static",
    file_options: dict[str, Any] | None = None,
    data_dir: str | Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[ShiftResult]:
    """Load, embed (through the on-disk cache) and run every dataset of the shift suite."""
    from polyroute.encoders import embed_dataset, make_encoder

    enc = make_encoder(encoder)
    out = []
    for name in datasets:
        ds, train = load_shift_dataset(name, file_options=file_options, data_dir=data_dir)
        X = embed_dataset(ds, enc, show_progress=False)
        out.append(run_shift(ds, X, train, routers=routers, encoder=encoder, progress=progress))
    return out
