"""The one routing decision rule: argmax of predicted quality minus λ·cost."""

from __future__ import annotations

import numpy as np

from polyroute.exceptions import DataError, NoEligibleModelError

Array = np.ndarray


def select(
    scores: Array,
    costs: Array | None = None,
    *,
    cost_weight: float = 0.0,
    candidates: Array | None = None,
) -> Array:
    """Choose a model per query: ``argmax_m scores[q, m] - cost_weight * costs[m]``.

    Parameters
    ----------
    scores : array, shape (n_queries, n_models)
        Predicted quality (higher is better). NaN marks a model that cannot answer the query.
    costs : array, shape (n_models,) or (n_queries, n_models), optional
        Cost of each model (per query where given). ``None`` means cost is ignored. An unknown
        cost (NaN, e.g. a model onboarded without a price) counts as the dearest known cost of
        that query: it never wins for being cheap, and it plays no part at ``cost_weight = 0``.
    cost_weight : float
        λ, the quality-cost trade-off (0 = quality only).
    candidates : int or bool array, optional
        Restrict the choice to these model columns (indices or a mask of length n_models).

    Returns
    -------
    array of int, shape (n_queries,)
        Column index of the chosen model. Ties go to the cheaper model, then the lower index.

    Example
    -------
    >>> select(np.array([[0.9, 0.8]]), np.array([10.0, 1.0]), cost_weight=0.05).tolist()
    [1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise DataError(f"scores must be 2-D (n_queries, n_models); found shape {scores.shape}")
    n, m = scores.shape
    cost = np.zeros(m) if costs is None else np.asarray(costs, dtype=np.float64)
    if cost.shape not in {(m,), (n, m)}:
        raise DataError(f"costs has shape {cost.shape}; expected ({m},) or ({n}, {m})")
    utility = scores - cost_weight * fill_unknown_costs(cost)
    utility = np.where(np.isnan(utility), -np.inf, utility)
    if candidates is not None:
        mask = np.zeros(m, dtype=bool)
        cand = np.asarray(candidates)
        mask[cand if cand.dtype != bool else np.flatnonzero(cand)] = True
        if not mask.any():
            raise NoEligibleModelError("candidate set is empty; expected at least one model")
        utility = np.where(mask, utility, -np.inf)
    # Tie-break towards cheaper models: exact ties are common with discrete profiles.
    best = utility.max(axis=1, keepdims=True)
    tied = np.isclose(utility, best, rtol=0.0, atol=1e-12) & np.isfinite(utility)
    cost_rows = np.broadcast_to(cost, (n, m))
    tie_cost = np.where(tied, cost_rows, np.inf)
    choice = tie_cost.argmin(axis=1)
    no_option = ~np.isfinite(best[:, 0])
    if no_option.any():
        raise NoEligibleModelError(
            f"{int(no_option.sum())} quer(y/ies) have no eligible model (all candidates NaN)"
        )
    return choice


def fill_unknown_costs(cost: Array) -> Array:
    """NaN costs replaced by the dearest known cost of their row (0 where none is known)."""
    unknown = np.isnan(cost)
    if not unknown.any():
        return cost
    dearest = np.max(np.where(unknown, -np.inf, cost), axis=-1, keepdims=True)
    return np.where(unknown, np.where(np.isfinite(dearest), dearest, 0.0), cost)
