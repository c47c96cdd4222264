"""Calibrate λ to a target on the user's own traffic (RouteLLM's ``calibrate_threshold``, for λ).

One prediction per prompt, then the decision (:func:`polyroute.routers.select`, relative costs)
re-run for every λ of a grid; the target picks the operating point:

* ``target_cost_per_1k``: the dearest point whose cost per 1,000 requests is within the target
  (as λ rises, cost and predicted quality fall together);
* ``target_share`` (model, share): the point whose share of that model is closest;
* ``min_quality``: the cheapest point whose predicted quality is at least that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from polyroute.evaluation import default_cost_weights
from polyroute.exceptions import DataError
from polyroute.routers import relative_costs, select

Array = np.ndarray


@dataclass(frozen=True)
class OperatingPoint:
    """Predicted outcome of routing the traffic with one λ."""

    cost_weight: float
    cost_per_1k_usd: float
    quality: float
    share: dict[str, float]


@dataclass(frozen=True)
class Calibration:
    """The chosen point, whether it meets the target, and the whole sweep."""

    target: str
    point: OperatingPoint
    met: bool
    points: list[OperatingPoint] = field(repr=False)


def sweep(
    scores: Array,
    decision_costs: Array,
    model_names: Sequence[str],
    *,
    charged_costs: Array | None = None,
    cost_weights: Sequence[float] | None = None,
    n_cost_weights: int = 200,
) -> list[OperatingPoint]:
    """Operating points (λ increasing) of ``scores`` / costs of shape (n, m) or (m,).

    The default λ grid (``n_cost_weights`` values) runs from 0 to where every prompt goes to
    the cheapest model (:func:`polyroute.evaluation.default_cost_weights`).
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] == 0:
        raise DataError(f"scores must be (n_prompts >= 1, n_models); found shape {scores.shape}")
    n, m = scores.shape
    decision = np.broadcast_to(np.asarray(decision_costs, dtype=np.float64), (n, m))
    charged = decision if charged_costs is None else np.broadcast_to(charged_costs, (n, m))
    lambdas = (
        np.sort(np.asarray(cost_weights, dtype=np.float64))
        if cost_weights is not None
        else default_cost_weights(scores, relative_costs(decision), n=n_cost_weights)
    )
    rows = np.arange(n)
    points = []
    for lam in lambdas:
        choice = select(scores, decision, cost_weight=float(lam))
        counts = np.bincount(choice, minlength=m) / n
        points.append(
            OperatingPoint(
                cost_weight=float(lam),
                cost_per_1k_usd=float(np.nan_to_num(charged[rows, choice]).mean() * 1000.0),
                quality=float(np.nan_to_num(scores[rows, choice]).mean()),
                share={name: float(counts[j]) for j, name in enumerate(model_names)},
            )
        )
    return points


def calibrate(
    points: Sequence[OperatingPoint],
    *,
    target_cost_per_1k: float | None = None,
    target_share: tuple[str, float] | None = None,
    min_quality: float | None = None,
) -> Calibration:
    """Pick the operating point that meets exactly one target (see the module docstring).

    Raises
    ------
    DataError
        Not exactly one target, or a share for a model the traffic never had as a candidate.
    """
    given = [t is not None for t in (target_cost_per_1k, target_share, min_quality)]
    if sum(given) != 1:
        raise DataError(
            "expected exactly one target (cost per 1k, share of a model, or minimum quality); "
            f"found {sum(given)}"
        )
    pts = sorted(points, key=lambda p: p.cost_weight)
    if target_cost_per_1k is not None:
        ok = [p for p in pts if p.cost_per_1k_usd <= target_cost_per_1k * (1 + 1e-9)]
        # the dearest point within the target (quality falls with cost), so spend lands on it
        best = max(ok, key=lambda p: (p.cost_per_1k_usd, p.quality)) if ok else None
        fallback = min(pts, key=lambda p: p.cost_per_1k_usd)
        return Calibration(
            f"cost per 1k requests <= ${target_cost_per_1k:g}", best or fallback, bool(ok), pts
        )
    if target_share is not None:
        model, share = target_share
        if model not in pts[0].share:
            raise DataError(
                f"--target-share names {model!r}; the traffic's models are "
                f"{', '.join(pts[0].share)}"
            )
        point = min(pts, key=lambda p: abs(p.share[model] - share))
        met = abs(point.share[model] - share) <= 0.02
        return Calibration(f"share of {model} = {share:g}", point, met, pts)
    assert min_quality is not None
    ok = [p for p in pts if p.quality >= min_quality - 1e-12]
    point = min(ok, key=lambda p: p.cost_per_1k_usd) if ok else max(pts, key=lambda p: p.quality)
    return Calibration(f"predicted quality >= {min_quality:g}", point, bool(ok), pts)
