"""Routing metrics over score matrices: deferral curves, Area, QNC, AIQ, APGR, per-task accuracy.

Everything here is pure numpy over matrices: ``pred_scores`` (what a router predicts, shape
(n_queries, n_models)), ``Y_true`` (the observed quality in [0, 1], NaN = no result) and
``costs_true`` (what answering costs, (n_queries, n_models) or (n_models,)).

Conventions shared by every metric
----------------------------------
* A *deferral curve* is traced by sweeping the cost weight λ of the routing rule
  ``argmax_m pred_scores[q, m] − λ·decision_costs[m]`` (:func:`polyroute.routers.select`); each λ
  gives one operating point (mean cost per query, mean quality per query).
* A model with no result for a query (``Y_true`` NaN) is not eligible for that query during
  evaluation; a query on which no model has a result scores 0 whoever is chosen.
* Any two operating points can be mixed (route a random share of the traffic with each λ), so
  quality between two points is their linear interpolation. The *frontier* of a curve is its set of
  non-dominated points (sorted by cost, each strictly better than every cheaper point).
* Area (UniRoute, arXiv 2502.08773): costs are normalised to ``x = (cost − cost_min) /
  (cost_max − cost_min)``; the frontier is interpolated linearly, held flat from its last point to
  ``x = 1``, is 0 left of its first point, and integrated over ``x ∈ [0, 1]``. With ``cost_min`` /
  ``cost_max`` the cheapest / dearest single model, a router at least as good as every single model
  scores ≤ 1 and routing everything to the best model scores its quality times ``1 − x_best``
  plus the flat tail.
* AIQ (RouterBench, arXiv 2403.12031): the same integral over the router's *non-decreasing convex
  hull* (upper concave envelope of the points from the cheapest point to the best one, flat after),
  divided by ``cost_max − cost_min``.
* APGR (RouteLLM, arXiv 2406.18665), two-model pools:
  ``APGR = ∫_0^1 PGR(c) dc`` with ``c`` the fraction of queries sent to the strong model and
  ``PGR(c) = (q(c) − q_weak) / (q_strong − q_weak)``; ``q(c)`` routes the share ``c`` of queries with
  the largest predicted advantage ``pred[strong] − pred[weak]`` to the strong model (ties shared at
  random, i.e. ``q`` is linear across a tie group), computed exactly at every ``c = k/n``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._select import select

Array = np.ndarray

#: Number of log-spaced positive cost weights in the default λ grid (plus λ = 0).
DEFAULT_N_COST_WEIGHTS = 160


@dataclass(frozen=True, eq=False)
class DeferralCurve:
    """Operating points of a router as the cost weight λ sweeps.

    Attributes
    ----------
    cost_weights : array, shape (k,)
        The λ values, increasing.
    costs : array, shape (k,)
        Mean charged cost per query at each λ (units of ``costs_true``).
    qualities : array, shape (k,)
        Mean observed quality per query at each λ (in [0, 1]).
    choices : int array, shape (k, n_queries)
        Chosen model column per query at each λ.
    """

    cost_weights: Array
    costs: Array
    qualities: Array
    choices: Array

    def frontier(self) -> tuple[Array, Array]:
        """Non-dominated points ``(costs, qualities)`` sorted by cost (see module docstring)."""
        return pareto_frontier(self.costs, self.qualities)


# ---------------------------------------------------------------------------- validation
def _as_matrix(name: str, value: Array, n: int, m: int) -> Array:
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape == (m,):
        return np.broadcast_to(arr, (n, m))
    if arr.shape != (n, m):
        raise DataError(f"{name} has shape {arr.shape}; expected ({m},) or ({n}, {m})")
    return arr


def _check_scores(pred_scores: Array, Y_true: Array) -> tuple[Array, Array]:
    pred = np.asarray(pred_scores, dtype=np.float64)
    Y = np.asarray(Y_true, dtype=np.float64)
    if Y.ndim != 2:
        raise DataError(f"Y_true must be 2-D (n_queries, n_models); found shape {Y.shape}")
    if pred.shape != Y.shape:
        raise DataError(f"pred_scores has shape {pred.shape}; expected {Y.shape} like Y_true")
    return pred, Y


def default_cost_weights(
    pred_scores: Array, decision_costs: Array, *, n: int = DEFAULT_N_COST_WEIGHTS
) -> Array:
    """λ grid from 0 to a value where every query goes to the cheapest model.

    The positive values are log-spaced between ``1e-4·R / C`` and ``1.01·R / g`` where ``R`` is the
    spread of the predicted scores, ``C`` the spread of the decision costs and ``g`` the smallest
    positive gap between two decision costs: beyond ``R / g`` no score difference can outweigh a
    cost difference.
    """
    pred = np.asarray(pred_scores, dtype=np.float64)
    cost = np.asarray(decision_costs, dtype=np.float64)
    finite = pred[np.isfinite(pred)]
    spread = float(finite.max() - finite.min()) if finite.size else 0.0
    spread = max(spread, 1e-9)
    levels = np.unique(cost[np.isfinite(cost)])
    if levels.size < 2:
        return np.zeros(1)
    gaps = np.diff(levels)
    lam_max = 1.01 * spread / float(gaps.min())
    lam_min = 1e-4 * spread / float(levels[-1] - levels[0])
    return np.concatenate([[0.0], np.geomspace(lam_min, lam_max, n)])


# ---------------------------------------------------------------------------- curve
def deferral_curve(
    pred_scores: Array,
    Y_true: Array,
    costs_true: Array,
    *,
    decision_costs: Array | None = None,
    cost_weights: Sequence[float] | Array | None = None,
) -> DeferralCurve:
    """Quality vs cost of a router's choices as λ sweeps.

    Parameters
    ----------
    pred_scores : array, shape (n_queries, n_models)
        The router's predicted quality (computed once; only the decision is re-run per λ).
    Y_true : array, shape (n_queries, n_models)
        Observed quality in [0, 1]; NaN where a model has no result (that model is then not
        eligible for that query).
    costs_true : array, shape (n_queries, n_models) or (n_models,)
        Cost charged when a model answers a query.
    decision_costs : array, shape (n_models,) or (n_queries, n_models), optional
        Costs the router decides with (what it knows). Default: mean of ``costs_true`` per model.
    cost_weights : sequence of float, optional
        λ values (sorted on return). Default: :func:`default_cost_weights`.

    Returns
    -------
    DeferralCurve

    Raises
    ------
    DataError
        Shapes that do not match, or a negative λ.

    Example
    -------
    >>> Y = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> c = deferral_curve(Y, Y, np.array([1.0, 0.0]), cost_weights=[0.0, 10.0])
    >>> c.costs.tolist(), c.qualities.tolist()
    ([0.5, 0.0], [1.0, 0.5])
    """
    pred, Y = _check_scores(pred_scores, Y_true)
    n, m = Y.shape
    charged = _as_matrix("costs_true", costs_true, n, m)
    if decision_costs is None:
        with _quiet():
            decision = np.nan_to_num(np.nanmean(charged, axis=0), nan=0.0) if n else np.zeros(m)
    else:
        decision = np.asarray(decision_costs, dtype=np.float64)
        if decision.shape not in {(m,), (n, m)}:
            raise DataError(
                f"decision_costs has shape {decision.shape}; expected ({m},) or ({n}, {m})"
            )
    if cost_weights is None:
        lambdas = default_cost_weights(pred, decision)
    else:
        lambdas = np.sort(np.asarray(cost_weights, dtype=np.float64).ravel())
        if lambdas.size == 0 or (lambdas < 0).any() or not np.isfinite(lambdas).all():
            raise DataError(
                f"cost_weights must be a non-empty list of finite values >= 0; "
                f"found {lambdas.tolist()}"
            )
    eligible_pred = _mask_unavailable(pred, Y)
    choices = np.empty((lambdas.size, n), dtype=np.int64)
    for k, lam in enumerate(lambdas):
        choices[k] = select(eligible_pred, decision, cost_weight=float(lam)) if n else []
    quality, cost = _charge(choices, Y, charged)
    return DeferralCurve(cost_weights=lambdas, costs=cost, qualities=quality, choices=choices)


def _mask_unavailable(pred: Array, Y: Array) -> Array:
    """NaN out predictions for models without a result, except on rows where no model has one."""
    missing = np.isnan(Y)
    keep_row = missing.all(axis=1, keepdims=True)
    return np.where(missing & ~keep_row, np.nan, pred)


def _charge(choices: Array, Y: Array, charged: Array) -> tuple[Array, Array]:
    """Mean quality (NaN -> 0) and mean cost (NaN -> 0) per row of ``choices``."""
    if choices.shape[1] == 0:
        return np.zeros(len(choices)), np.zeros(len(choices))
    rows = np.arange(choices.shape[1])
    quality = np.nan_to_num(Y[rows, choices], nan=0.0).mean(axis=1)
    cost = np.nan_to_num(charged[rows, choices], nan=0.0).mean(axis=1)
    return quality, cost


def choice_quality(choices: Array, Y_true: Array) -> Array:
    """Observed quality of each chosen model, shape (n_queries,); NaN counts as 0."""
    Y = np.asarray(Y_true, dtype=np.float64)
    ch = np.asarray(choices, dtype=np.int64)
    if Y.ndim != 2 or ch.shape != (Y.shape[0],):
        raise DataError(
            f"choices has shape {ch.shape}; expected ({Y.shape[0]},) for Y_true of shape {Y.shape}"
        )
    if ch.size and (ch.min() < 0 or ch.max() >= Y.shape[1]):
        raise DataError(
            f"choices must be model indices in [0, {Y.shape[1]}); found [{ch.min()}, {ch.max()}]"
        )
    return np.nan_to_num(Y[np.arange(len(ch)), ch], nan=0.0)


# ---------------------------------------------------------------------------- frontier & hull
def pareto_frontier(costs: Array, qualities: Array) -> tuple[Array, Array]:
    """Points not dominated by a cheaper-or-equal point, sorted by cost (strictly increasing)."""
    cost = np.asarray(costs, dtype=np.float64).ravel()
    qual = np.asarray(qualities, dtype=np.float64).ravel()
    if cost.shape != qual.shape:
        raise DataError(f"costs has {cost.size} points; qualities has {qual.size}")
    if cost.size == 0:
        raise DataError("a curve needs at least one point; found none")
    order = np.lexsort((-qual, cost))  # by cost, best quality first among equal costs
    keep_c, keep_q = [], []
    best = -np.inf
    for c, q in zip(cost[order], qual[order], strict=True):
        if q > best:
            keep_c.append(c)
            keep_q.append(q)
            best = q
    return np.asarray(keep_c), np.asarray(keep_q)


def nondecreasing_convex_hull(costs: Array, qualities: Array) -> tuple[Array, Array]:
    """RouterBench's non-decreasing convex hull: vertices of the upper concave envelope of the
    points, from the cheapest (best among equally cheap) to the first best-quality point."""
    cost, qual = pareto_frontier(costs, qualities)
    hull: list[tuple[float, float]] = []
    for c, q in zip(cost, qual, strict=True):  # Andrew's monotone chain, upper part
        while len(hull) >= 2:
            (c1, q1), (c2, q2) = hull[-2], hull[-1]
            if (c2 - c1) * (q - q1) - (q2 - q1) * (c - c1) >= 0:  # hull[-1] not strictly above
                hull.pop()
            else:
                break
        hull.append((c, q))
    arr = np.asarray(hull)
    return arr[:, 0], arr[:, 1]


def _integrate(xs: Array, ys: Array) -> float:
    """∫_0^1 of the piecewise-linear curve through (xs, ys) (xs increasing), 0 left of xs[0],
    flat right of xs[-1]; xs are clipped to [0, 1]."""
    x = np.clip(xs, 0.0, 1.0)
    y = np.asarray(ys, dtype=np.float64)
    inner = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))
    return inner + float(y[-1] * (1.0 - x[-1]))


def _normalise(costs: Array, cost_min: float, cost_max: float) -> Array:
    if not np.isfinite(cost_min) or not np.isfinite(cost_max) or cost_max <= cost_min:
        raise DataError(
            f"cost_max must be greater than cost_min; found cost_min={cost_min:g}, "
            f"cost_max={cost_max:g} (are all models equally expensive?)"
        )
    return (np.asarray(costs, dtype=np.float64) - cost_min) / (cost_max - cost_min)


def area_under_curve(curve: DeferralCurve, *, cost_min: float, cost_max: float) -> float:
    """UniRoute's area under the deferral curve, normalised to [0, 1] × [0, 1].

    Costs are mapped to ``x = (cost − cost_min) / (cost_max − cost_min)``; the curve's frontier
    (non-dominated points) is joined linearly, is 0 left of its cheapest point, held flat from its
    last point to ``x = 1``, and integrated over ``[0, 1]`` (points outside are clipped).

    Parameters
    ----------
    curve : DeferralCurve
    cost_min, cost_max : float
        The normalisation range, usually the cheapest and the dearest single model's mean cost
        (:func:`single_model_points`), the same for every router compared.

    Returns
    -------
    float

    Example
    -------
    Points (cost, quality) (0, 0.5) and (1, 1.0) on [0, 1]: area = (0.5 + 1.0) / 2 = 0.75.

    >>> c = DeferralCurve(np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([0.5, 1.0]),
    ...                   np.zeros((2, 0), dtype=int))
    >>> area_under_curve(c, cost_min=0.0, cost_max=1.0)
    0.75
    """
    cost, qual = curve.frontier()
    return _integrate(_normalise(cost, cost_min, cost_max), qual)


def aiq(
    curve: DeferralCurve, *, cost_min: float | None = None, cost_max: float | None = None
) -> float:
    """RouterBench's Average Improvement in Quality: ``1/(c_max − c_min) ∫ hull(c) dc``.

    ``hull`` is the non-decreasing convex hull of the curve's (cost, quality) points
    (:func:`nondecreasing_convex_hull`), 0 left of its cheapest point and flat after its best one.
    ``cost_min``/``cost_max`` default to the curve's own cost range; pass the single models'
    range to compare routers on one scale.
    """
    cmin = float(np.min(curve.costs)) if cost_min is None else float(cost_min)
    cmax = float(np.max(curve.costs)) if cost_max is None else float(cost_max)
    cost, qual = nondecreasing_convex_hull(curve.costs, curve.qualities)
    return _integrate(_normalise(cost, cmin, cmax), qual)


def qnc(curve: DeferralCurve, *, target_quality: float, reference_cost: float) -> float:
    """Quality-neutral cost: the lowest cost at which the curve reaches ``target_quality``,
    divided by ``reference_cost`` (UniRoute).

    Usually ``target_quality``/``reference_cost`` are the quality and mean cost of the most accurate
    single model, so QNC < 1 means the router matches it more cheaply. Between frontier points the
    curve is linear (mixing two operating points). Returns ``inf`` when the target is never reached.

    Example
    -------
    Frontier (0, 0.5), (2, 0.9); target 0.7 is reached at cost 1; reference cost 4 -> 0.25.
    """
    if not reference_cost > 0:
        raise DataError(f"reference_cost must be > 0; found {reference_cost:g}")
    cost, qual = curve.frontier()
    tol = 1e-12
    reached = np.flatnonzero(qual >= target_quality - tol)
    if reached.size == 0:
        return float("inf")
    j = int(reached[0])
    if j == 0 or qual[j] - qual[j - 1] <= 0:
        at = cost[j]
    else:
        frac = (target_quality - qual[j - 1]) / (qual[j] - qual[j - 1])
        at = cost[j - 1] + min(max(frac, 0.0), 1.0) * (cost[j] - cost[j - 1])
    return float(at / reference_cost)


# ---------------------------------------------------------------------------- singles & zero
def single_model_points(Y_true: Array, costs_true: Array) -> tuple[Array, Array]:
    """Mean cost and mean quality of each model used alone, each shape (n_models,).

    Both ignore NaN entries (a model's quality is its mean over the queries it has a result for).
    """
    Y = np.asarray(Y_true, dtype=np.float64)
    if Y.ndim != 2:
        raise DataError(f"Y_true must be 2-D (n_queries, n_models); found shape {Y.shape}")
    n, m = Y.shape
    charged = _as_matrix("costs_true", costs_true, n, m)
    with _quiet():
        quality = np.nan_to_num(np.nanmean(Y, axis=0), nan=0.0)
        cost = np.nan_to_num(np.nanmean(np.where(np.isnan(Y), np.nan, charged), axis=0), nan=0.0)
    return cost, quality


def zero_router_hull(Y_true: Array, costs_true: Array) -> tuple[Array, Array]:
    """ZeroRouter (UniRoute): the non-decreasing convex hull of the single-model points.

    Mixing the hull's vertex models at random reaches every point on it, using no query
    information at all; a router is only useful where it lies above this hull.
    """
    return nondecreasing_convex_hull(*single_model_points(Y_true, costs_true))


def shared_rows(Y_true: Array) -> Array:
    """Indices of the queries on which every model has a result (no NaN in the row)."""
    return np.flatnonzero(~np.isnan(np.asarray(Y_true, dtype=np.float64)).any(axis=1))


def best_single_model(Y_true: Array, costs_true: Array) -> int:
    """Index of the most accurate single model (the cheaper one on exact ties).

    Models are compared on the same queries: those where every model has a result
    (:func:`shared_rows`). Each model's mean over its own results would favour a model that was
    only run on easy queries. Only when no query is shared does each model use its own results.
    """
    Y = np.asarray(Y_true, dtype=np.float64)
    rows = shared_rows(Y)
    charged = _as_matrix("costs_true", costs_true, *Y.shape)
    if rows.size:
        Y, charged = Y[rows], charged[rows]
    cost, quality = single_model_points(Y, charged)
    return int(np.lexsort((cost, -quality))[0])


def curve_on_rows(
    curve: DeferralCurve, rows: Array, Y_true: Array, costs_true: Array
) -> DeferralCurve:
    """The same choices as ``curve``, charged on the queries ``rows`` only (mean over them)."""
    Y = np.asarray(Y_true, dtype=np.float64)
    charged = _as_matrix("costs_true", costs_true, *Y.shape)
    idx = np.asarray(rows, dtype=np.int64)
    choices = curve.choices[:, idx]
    quality, cost = _charge(choices, Y[idx], charged[idx])
    return DeferralCurve(curve.cost_weights, cost, quality, choices)


# ---------------------------------------------------------------------------- accuracy
def task_accuracy(choices: Array, Y_true: Array, tasks: Sequence[str] | Array) -> dict[str, float]:
    """Mean quality of the chosen models per task, ``{task: value in [0, 1]}``.

    Tasks appear in order of first occurrence. A chosen model without a result (NaN) counts 0.
    The macro average over tasks (as the RouterDC paper reports) is ``np.mean(list(d.values()))``.
    """
    got = choice_quality(choices, Y_true)
    task_arr = np.asarray(tasks, dtype=object)
    if task_arr.shape != got.shape:
        raise DataError(f"tasks has shape {task_arr.shape}; expected ({got.size},)")
    return {str(t): float(got[task_arr == t].mean()) for t in dict.fromkeys(task_arr.tolist())}


# ---------------------------------------------------------------------------- APGR
def pgr_curve(pred_scores: Array, Y_true: Array, *, strong: int, weak: int) -> tuple[Array, Array]:
    """Performance gap recovered vs share of strong-model calls (RouteLLM).

    Returns ``(fractions, pgr)`` at the tie-group boundaries of the predicted advantage
    ``pred[strong] − pred[weak]`` (sorted descending), from 0 to 1; between them PGR is linear,
    which is its exact expectation under random tie-breaking. Rows where either model has no
    result are dropped.
    """
    pred, Y = _check_scores(pred_scores, Y_true)
    m = Y.shape[1]
    if not (0 <= strong < m and 0 <= weak < m) or strong == weak:
        raise DataError(
            f"strong and weak must be two different model indices in [0, {m}); "
            f"found strong={strong}, weak={weak}"
        )
    keep = ~np.isnan(Y[:, strong]) & ~np.isnan(Y[:, weak])
    adv = pred[keep, strong] - pred[keep, weak]
    q_s, q_w = Y[keep, strong], Y[keep, weak]
    n = int(keep.sum())
    if n == 0:
        raise DataError("no query has results for both the strong and the weak model")
    gap = float(q_s.mean() - q_w.mean())
    if gap <= 0:
        raise DataError(
            f"the strong model must beat the weak one on average; found q_strong - q_weak = {gap:g}"
        )
    adv = np.nan_to_num(adv, nan=-np.inf)
    order = np.argsort(-adv, kind="stable")
    gain = np.cumsum((q_s - q_w)[order])  # quality gained by sending the top-k to strong
    sorted_adv = adv[order]
    boundary = np.r_[np.flatnonzero(sorted_adv[1:] != sorted_adv[:-1]), n - 1]  # last of group
    k = np.r_[0, boundary + 1]
    recovered = np.r_[0.0, gain[boundary]] / n
    return k / n, recovered / gap


def apgr(pred_scores: Array, Y_true: Array, *, strong: int, weak: int) -> float:
    """Average performance gap recovered, ``∫_0^1 PGR(c) dc`` (RouteLLM, arXiv 2406.18665).

    ``c`` is the fraction of queries sent to the strong model (those with the largest predicted
    advantage), ``PGR(c) = (q(c) − q_weak) / (q_strong − q_weak)``. A random router scores 0.5
    in expectation; the per-query oracle scores the most.

    Example
    -------
    4 queries, strong right on 0, 1, 2 and weak right on 0, 3 (q_weak 0.5, q_strong 0.75); a
    router ranking queries 1, 2, 0, 3 recovers PGR 0, 1, 2, 2, 1 at c = 0, .25, .5, .75, 1
    -> APGR = 0.25·(0.5 + 1.5 + 2 + 1.5) = 1.375.
    """
    frac, pgr = pgr_curve(pred_scores, Y_true, strong=strong, weak=weak)
    return float(np.sum((frac[1:] - frac[:-1]) * (pgr[1:] + pgr[:-1]) / 2.0))


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's 'mean of empty slice' RuntimeWarning for all-NaN columns (-> NaN -> 0)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
