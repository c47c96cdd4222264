"""Logged decisions as matrices: candidates' predicted quality and costs, what was chosen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from polyroute.exceptions import DataError
from polyroute.traffic._record import DecisionRecord

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class TrafficFrame:
    """Decision records aligned on one model axis (NaN where a model was not a candidate).

    Attributes
    ----------
    model_names : list of str
    scores : array, shape (n, m)
        Predicted quality the gateway decided with.
    decision_costs : array, shape (n, m)
        Per-query USD cost the gateway decided with (the models' routing cost estimates).
    charged_costs : array, shape (n, m)
        What answering costs: the estimates × each model's logged ratio of usage cost to estimate
        (the median ratio of the other models where a model has no logged usage).
    chosen : int array, shape (n,)
    cost_weights : array, shape (n,)
    feedback : array, shape (n,)
        Logged graded outcome (NaN where none).
    actual_cost_usd : array, shape (n,)
        Logged usage × prices of the answer (NaN without usage).
    """

    model_names: list[str]
    scores: Array
    decision_costs: Array
    charged_costs: Array
    chosen: Array
    cost_weights: Array
    feedback: Array
    actual_cost_usd: Array

    @property
    def n(self) -> int:
        return int(self.scores.shape[0])


def frame_from_records(records: Sequence[DecisionRecord]) -> TrafficFrame:
    """Learned-routing records (with candidates) as a :class:`TrafficFrame`.

    Raises
    ------
    DataError
        No record carries candidates (nothing was routed by a learned profile).
    """
    usable = [r for r in records if r.candidates and r.model in r.candidates]
    if not usable:
        raise DataError(
            f"none of {len(records)} logged request(s) has router candidates; expected requests "
            "routed by a learned profile (model='auto' or a named profile)"
        )
    names = list(dict.fromkeys(m for r in usable for m in r.candidates))
    col = {m: j for j, m in enumerate(names)}
    n, m = len(usable), len(names)
    scores = np.full((n, m), np.nan)
    est = np.full((n, m), np.nan)
    for i, r in enumerate(usable):
        for name, q, c in zip(r.candidates, r.predicted_quality, r.candidate_cost_usd, strict=True):
            scores[i, col[name]] = np.nan if q is None else q
            est[i, col[name]] = c
    chosen = np.array([col[r.model] for r in usable])
    actual = np.array([np.nan if r.cost_usd is None else r.cost_usd for r in usable])
    ratio = np.full(m, np.nan)
    chosen_est = est[np.arange(n), chosen]
    for j in range(m):
        rows = (chosen == j) & np.isfinite(actual) & (chosen_est > 0)
        if rows.any():
            ratio[j] = float(actual[rows].sum() / chosen_est[rows].sum())
    # a model that never answered: the typical ratio of those that did (1 when none did)
    seen = np.isfinite(ratio)
    ratio[~seen] = float(np.median(ratio[seen])) if seen.any() else 1.0
    return TrafficFrame(
        model_names=names,
        scores=scores,
        decision_costs=est,
        charged_costs=est * ratio,
        chosen=chosen,
        cost_weights=np.array([r.cost_weight or 0.0 for r in usable]),
        feedback=np.array([np.nan if r.feedback is None else r.feedback for r in usable]),
        actual_cost_usd=actual,
    )
