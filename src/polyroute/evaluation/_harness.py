"""The evaluation harness: fit routers once, predict once per test set, sweep λ over the decision.

``evaluate(routers, train, tests, encoder=...)`` returns an :class:`EvaluationResult` holding, per
test set and router: per-task accuracy and their macro average (as the RouterDC paper reports),
mean/total cost, the deferral curve and Area / QNC / AIQ (and APGR for two-model pools). Oracle
routers (``uses_test_labels``) score from the test labels; routers with ``cost_sensitive = False``
are a single point (λ = 0). Embeddings come from :func:`polyroute.encoders.embed_dataset` (cached
on disk) once per dataset, timed apart from the routers (``embed_time_s``), and skipped when every
router ignores the query's content. The best single model (QNC's reference) is chosen on the test
queries where every model has a result, and QNC is measured on those queries.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyroute.data import RoutingDataset
from polyroute.evaluation._metrics import (
    DeferralCurve,
    aiq,
    apgr,
    area_under_curve,
    best_single_model,
    curve_on_rows,
    deferral_curve,
    nondecreasing_convex_hull,
    qnc,
    shared_rows,
    single_model_points,
    task_accuracy,
)
from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter, make_router

Array = np.ndarray


@dataclass
class RouterResult:
    """One router on one test set (accuracies are fractions in [0, 1], at λ = 0)."""

    name: str
    task_accuracy: dict[str, float]
    average: float
    mean_cost: float
    total_cost: float
    curve: DeferralCurve
    area: float | None = None
    qnc: float | None = None
    aiq: float | None = None
    apgr: float | None = None
    uses_test_labels: bool = False
    predict_time_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "task_accuracy": self.task_accuracy,
            "average": self.average,
            "mean_cost": self.mean_cost,
            "total_cost": self.total_cost,
            "area": self.area,
            "qnc": None if self.qnc is None or np.isinf(self.qnc) else self.qnc,
            "qnc_reached": None if self.qnc is None else bool(np.isfinite(self.qnc)),
            "aiq": self.aiq,
            "apgr": self.apgr,
            "uses_test_labels": self.uses_test_labels,
            "predict_time_s": round(self.predict_time_s, 4),
            "curve": {
                "cost_weights": self.curve.cost_weights.tolist(),
                "costs": self.curve.costs.tolist(),
                "qualities": self.curve.qualities.tolist(),
            },
        }


@dataclass
class TestSetResult:
    """Every router on one test set, with the single-model reference points."""

    name: str
    n_queries: int
    tasks: list[str]
    model_names: list[str]
    has_costs: bool
    single_costs: Array
    single_qualities: Array
    best_single: str
    single_task_average: Array | None = None  # per model: macro average over tasks
    #: Queries where every model has a result; the single models compared there choose
    #: ``best_single`` and give QNC's target quality and reference cost.
    shared: Array = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    shared_costs: Array = field(default_factory=lambda: np.zeros(0))
    shared_qualities: Array = field(default_factory=lambda: np.zeros(0))
    routers: dict[str, RouterResult] = field(default_factory=dict)

    @property
    def cost_range(self) -> tuple[float, float]:
        return float(self.single_costs.min()), float(self.single_costs.max())

    def zero_hull(self) -> tuple[Array, Array]:
        """The single models' cost–quality hull: what ZeroRouter reaches on this test set."""
        return nondecreasing_convex_hull(self.single_costs, self.single_qualities)

    def to_dict(self) -> dict[str, Any]:
        best = self.model_names.index(self.best_single)
        ref = None
        if self.shared.size:
            ref = {
                "model": self.best_single,
                "quality": float(self.shared_qualities[best]),
                "cost": float(self.shared_costs[best]),
                "n_queries": int(self.shared.size),
            }
        return {
            "n_queries": self.n_queries,
            "tasks": self.tasks,
            "has_costs": self.has_costs,
            "best_single": self.best_single,
            "qnc_reference": ref,
            "single_models": {
                m: {
                    "cost": float(self.single_costs[i]),
                    "quality": float(self.single_qualities[i]),
                    "task_average": None
                    if self.single_task_average is None
                    else float(self.single_task_average[i]),
                }
                for i, m in enumerate(self.model_names)
            },
            "routers": {k: v.to_dict() for k, v in self.routers.items()},
        }


@dataclass
class EvaluationResult:
    """What :func:`evaluate` returns; see :mod:`polyroute.evaluation._report` for output."""

    dataset: str
    train_name: str
    n_train: int
    model_names: list[str]
    cost_unit: str
    encoder: str | None
    tests: dict[str, TestSetResult]
    fit_time_s: dict[str, float]
    train_targets: dict[str, str] = field(default_factory=dict)
    command: str | None = None
    #: Seconds spent embedding each dataset ("train" and the test labels), shared by all routers
    #: and not part of their fit/predict times.
    embed_time_s: dict[str, float] = field(default_factory=dict)
    #: label -> {"router": registry name, "params": {...}} for routers built from specs.
    router_specs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "train": self.train_name,
            "n_train": self.n_train,
            "models": self.model_names,
            "cost_unit": self.cost_unit,
            "encoder": self.encoder,
            "command": self.command,
            "fit_time_s": {k: round(v, 3) for k, v in self.fit_time_s.items()},
            "embed_time_s": {k: round(v, 3) for k, v in self.embed_time_s.items()},
            "router_specs": self.router_specs,
            "train_targets": self.train_targets,
            "tests": {k: v.to_dict() for k, v in self.tests.items()},
        }


# ---------------------------------------------------------------------------- inputs
def _as_router_dict(
    routers: Mapping[str, BaseRouter] | Sequence[str | BaseRouter],
) -> dict[str, BaseRouter]:
    if isinstance(routers, Mapping):
        out = dict(routers)
    else:
        out = {}
        for r in routers:
            if isinstance(r, str):
                out[r] = make_router(r)
            else:
                out[type(r).__name__] = r
    if not out:
        raise DataError("expected at least one router to evaluate; found none")
    for name, router in out.items():
        if not isinstance(router, BaseRouter):
            raise DataError(f"router {name!r} must be a BaseRouter; found {type(router).__name__}")
    return out


def _check_pools(train: RoutingDataset, tests: Mapping[str, RoutingDataset]) -> None:
    if not tests:
        raise DataError("expected at least one test set; found none")
    for label, ds in tests.items():
        if ds.model_names != train.model_names:
            raise DataError(
                f"test set {label!r} has models {list(ds.model_names)}; expected the "
                f"training pool {list(train.model_names)}"
            )


def _train_targets(
    spec: str | Mapping[str, str], routers: Mapping[str, BaseRouter]
) -> dict[str, str]:
    table = (
        {n: spec for n in routers}
        if isinstance(spec, str)
        else {n: spec.get(n, "scores") for n in routers}
    )
    if not isinstance(spec, str) and set(spec) - set(routers):
        raise DataError(
            f"train_target names router(s) {sorted(set(spec) - set(routers))} that "
            f"are not evaluated; expected some of: {', '.join(routers)}"
        )
    for name, target in table.items():
        if target not in ("scores", "soft_scores"):
            raise DataError(
                f"train_target of {name!r} must be 'scores' or 'soft_scores'; found {target!r}"
            )
    return table


def _needs_content(router: BaseRouter) -> bool:
    return not (router.uses_test_labels or getattr(router, "query_independent", False))


class _Inputs:
    """Router inputs per dataset: cached embeddings, prompt texts, or a placeholder column."""

    def __init__(
        self,
        routers: Mapping[str, BaseRouter],
        encoder: Any,
        embed_kwargs: Mapping[str, Any],
        clock: Callable[[], float],
    ) -> None:
        self.embed = any(_needs_content(r) and r.input_kind != "text" for r in routers.values())
        self.encoder = encoder
        self.embed_kwargs = dict(embed_kwargs)
        self.clock = clock
        self.embed_time_s: dict[str, float] = {}
        self._cache: dict[int, Array] = {}
        if encoder is None or isinstance(encoder, str):
            self._name = encoder or "minilm"
        else:
            self._name = str(getattr(encoder, "encoder_id", type(encoder).__name__))

    @property
    def encoder_name(self) -> str | None:
        """The encoder's registry name (or id, for an encoder object); None when unused."""
        return self._name if self.embed else None

    def prepare(self, ds: RoutingDataset, label: str) -> None:
        """Embed ``ds`` now (when a router needs it), timing it under ``label``."""
        if not self.embed or id(ds) in self._cache:
            return
        from polyroute.encoders import embed_dataset, make_encoder

        start = self.clock()  # loading the encoder is part of the embedding cost
        if self.encoder is None or isinstance(self.encoder, str):
            self.encoder = make_encoder(self.encoder or "minilm")
        self._cache[id(ds)] = embed_dataset(ds, self.encoder, **self.embed_kwargs)
        self.embed_time_s[label] = self.clock() - start

    def get(self, router: BaseRouter, ds: RoutingDataset) -> Array:
        if router.input_kind == "text":
            return np.asarray(ds.prompts, dtype=object)
        if not self.embed or not _needs_content(router):
            return np.zeros((ds.n_prompts, 1), dtype=np.float32)
        self.prepare(ds, ds.name)
        return self._cache[id(ds)]


# ---------------------------------------------------------------------------- evaluate
def evaluate(
    routers: Mapping[str, BaseRouter] | Sequence[str | BaseRouter],
    train: RoutingDataset,
    tests: Mapping[str, RoutingDataset],
    *,
    encoder: Any = "minilm",
    cost_weights: Sequence[float] | None = None,
    train_target: str | Mapping[str, str] = "scores",
    show_progress: bool | None = None,
    embed_kwargs: Mapping[str, Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> EvaluationResult:
    """Fit each router once on ``train`` and evaluate it on every test set.

    Parameters
    ----------
    routers : mapping of name to router, or sequence of registry names / routers
    train : RoutingDataset
    tests : mapping of label to RoutingDataset
        Same model pool (same names, same order) as ``train``.
    encoder : Encoder or str, default "minilm"
        How prompts become ``X`` (through the on-disk embedding cache); not used when every router
        ignores the query's content or takes text.
    cost_weights : sequence of float, optional
        λ grid for the deferral curves (0 is always added). Default: per router, from 0 to where
        every query goes to the cheapest model (:func:`default_cost_weights`).
    train_target : {"scores", "soft_scores"} or mapping of router name to one of them
        Which matrix routers learn from (per router with a mapping; unnamed routers use
        ``scores``); ``soft_scores`` falls back to ``scores`` when the dataset has none.
    show_progress : bool, optional
        Progress bars (default: when stderr is a terminal).
    embed_kwargs : mapping, optional
        Passed to ``embed_dataset`` (``cache_dir``, ``batch_size``).
    clock : callable, default time.perf_counter
        Seconds, for ``fit_time_s``, ``embed_time_s`` and ``predict_time_s``.

    Returns
    -------
    EvaluationResult
    """
    table = _as_router_dict(routers)
    tests = dict(tests)
    _check_pools(train, tests)
    targets = _train_targets(train_target, table)
    inputs = _Inputs(
        table, encoder, {"show_progress": show_progress, **(embed_kwargs or {})}, clock
    )
    inputs.prepare(train, "train")  # shared by every router: timed apart from their fits
    fit_times: dict[str, float] = {}
    for name, router in _progress(table.items(), "fitting", show_progress):
        start = clock()
        Y_train = train.scores
        if targets[name] == "soft_scores" and train.soft_scores is not None:
            Y_train = train.soft_scores
        router.fit(
            inputs.get(router, train),
            Y_train,
            model_names=list(train.model_names),
            tasks=list(train.tasks),
        )
        fit_times[name] = clock() - start
    decision = train.model_costs() if train.costs is not None else None
    results = {
        label: _evaluate_test(table, inputs, ds, decision, cost_weights, label, show_progress)
        for label, ds in tests.items()
    }
    return EvaluationResult(
        dataset=train.name.split(":")[0],
        train_name=train.name,
        n_train=train.n_prompts,
        model_names=list(train.model_names),
        cost_unit=train.cost_unit,
        encoder=inputs.encoder_name,
        tests=results,
        fit_time_s=fit_times,
        train_targets=targets,
        embed_time_s=inputs.embed_time_s,
    )


def _evaluate_test(
    routers: Mapping[str, BaseRouter],
    inputs: _Inputs,
    ds: RoutingDataset,
    decision: Array | None,
    cost_weights: Sequence[float] | None,
    label: str,
    show_progress: bool | None,
) -> TestSetResult:
    charged = ds.cost_matrix()
    s_cost, s_quality = single_model_points(ds.scores, charged)
    has_costs = ds.costs is not None and float(s_cost.max() - s_cost.min()) > 0
    best = best_single_model(ds.scores, charged)
    shared = shared_rows(ds.scores)
    shared_cost, shared_quality = single_model_points(ds.scores[shared], charged[shared])
    out = TestSetResult(
        name=label,
        n_queries=ds.n_prompts,
        tasks=ds.task_names,
        model_names=list(ds.model_names),
        has_costs=has_costs,
        single_costs=s_cost,
        single_qualities=s_quality,
        best_single=ds.model_names[best],
        single_task_average=np.mean(
            [
                single_model_points(ds.scores[ds.tasks == t], charged[ds.tasks == t])[1]
                for t in ds.task_names
            ],
            axis=0,
        ),
        shared=shared,
        shared_costs=shared_cost,
        shared_qualities=shared_quality,
    )
    known = decision if decision is not None else ds.model_costs()
    inputs.prepare(ds, label)  # shared by every router: timed apart from their predictions
    for name, router in _progress(routers.items(), f"evaluating {label}", show_progress):
        start = inputs.clock()
        if router.uses_test_labels:
            scores = router.oracle_scores(ds.scores, list(ds.tasks))
        else:
            scores = router.predict_scores(inputs.get(router, ds))
        elapsed = inputs.clock() - start
        lambdas: Sequence[float] | None = cost_weights
        if not has_costs or not getattr(router, "cost_sensitive", True):
            lambdas = [0.0]
        elif lambdas is not None:
            lambdas = sorted({0.0, *map(float, lambdas)})
        curve = deferral_curve(
            scores, ds.scores, charged, decision_costs=known, cost_weights=lambdas
        )
        out.routers[name] = _summarise(name, router, curve, scores, ds, out, elapsed)
    return out


def _summarise(
    name: str,
    router: BaseRouter,
    curve: DeferralCurve,
    scores: Array,
    ds: RoutingDataset,
    test: TestSetResult,
    elapsed: float,
) -> RouterResult:
    per_task = task_accuracy(curve.choices[0], ds.scores, ds.tasks)
    result = RouterResult(
        name=name,
        task_accuracy=per_task,
        average=float(np.mean(list(per_task.values()))),
        mean_cost=float(curve.costs[0]),
        total_cost=float(curve.costs[0] * ds.n_prompts),
        curve=curve,
        uses_test_labels=router.uses_test_labels,
        predict_time_s=elapsed,
    )
    best = test.model_names.index(test.best_single)
    ref_cost, ref_quality = test.shared_costs, test.shared_qualities
    defined = test.shared.size > 0
    if test.has_costs:
        cmin, cmax = test.cost_range
        if getattr(router, "cost_sensitive", True):  # a single operating point has no area
            result.area = area_under_curve(curve, cost_min=cmin, cost_max=cmax)
            result.aiq = aiq(curve, cost_min=cmin, cost_max=cmax)
        if defined and ref_cost[best] > 0:
            # Router and reference on the same queries: those where every model has a result.
            result.qnc = qnc(
                curve_on_rows(curve, test.shared, ds.scores, ds.cost_matrix()),
                target_quality=float(ref_quality[best]),
                reference_cost=float(ref_cost[best]),
            )
    if ds.n_models == 2 and defined:
        gap = ref_quality[best] - ref_quality[1 - best]
        if gap > 0:
            result.apgr = apgr(scores, ds.scores, strong=best, weak=1 - best)
    return result


def _progress(items: Any, desc: str, show: bool | None) -> Any:
    import sys

    from tqdm import tqdm

    enabled = sys.stderr.isatty() if show is None else show
    seq = list(items)
    return tqdm(seq, desc=desc, disable=not enabled or len(seq) < 2, leave=False)
