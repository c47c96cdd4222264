"""The one routing decision rule: rank models by predicted quality minus λ·relative cost.

λ (``cost_weight``) has one meaning everywhere — library, CLI, evaluation harness and gateway:
costs are first made *relative* (each candidate's cost divided by the dearest candidate's cost,
:func:`relative_costs`), so the dearest candidate costs 1 and ``λ = 0.3`` means "0.3 of quality is
worth the price of the dearest candidate". Relative costs make λ independent of the price unit
(USD per query, per 1M tokens, ...) so a λ calibrated offline holds in the gateway.
"""

from __future__ import annotations

import numpy as np

from polyroute.exceptions import DataError, NoEligibleModelError

Array = np.ndarray

# Utilities closer than this count as tied (discrete profiles tie exactly; floats need slack).
_TIE_DECIMALS = 12


def relative_costs(costs: Array, candidates: Array | None = None) -> Array:
    """Costs divided by the dearest candidate's cost (per query for per-query costs).

    Parameters
    ----------
    costs : array, shape (n_models,) or (n_queries, n_models)
        Costs in any unit. NaN marks an unknown price (a model onboarded without one).
    candidates : bool array, shape (n_models,), optional
        The models being chosen among; the dearest is taken over these only.

    Returns
    -------
    array, same shape as ``costs``
        Values in [0, 1]. An unknown cost counts as the dearest (1): it never wins for being
        cheap. When no candidate has a known positive cost every entry is 0 (cost plays no part).

    Example
    -------
    >>> relative_costs(np.array([2.0, 8.0, np.nan])).tolist()
    [0.25, 1.0, 1.0]
    """
    cost = np.asarray(costs, dtype=np.float64)
    if cost.shape[-1] == 0:
        return cost.copy()
    known = np.isfinite(cost)
    if candidates is not None:
        known = known & np.asarray(candidates, dtype=bool)
    top = np.max(np.where(known, cost, -np.inf), axis=-1, keepdims=True)
    priced = np.isfinite(top) & (top > 0)
    safe_top = np.where(priced, top, 1.0)
    rel = np.where(np.isnan(cost), 1.0, cost / safe_top)
    return np.where(priced, rel, 0.0)


def utility(scores: Array, rel_costs: Array, cost_weight: float) -> Array:
    """``scores − cost_weight · rel_costs``; NaN (model cannot answer) becomes −inf."""
    u = np.asarray(scores, dtype=np.float64) - cost_weight * np.asarray(rel_costs, dtype=np.float64)
    return np.where(np.isnan(u), -np.inf, u)


def rank(
    scores: Array,
    rel_costs: Array,
    cost_weight: float,
    *,
    candidates: Array | None = None,
    top: int | None = None,
) -> Array:
    """Models per query, best first: by ``scores − cost_weight · rel_costs``, vectorised.

    Parameters
    ----------
    scores : array, shape (n_queries, n_models)
        Predicted quality (higher is better); NaN marks a model that cannot answer the query.
    rel_costs : array, shape (n_models,) or (n_queries, n_models)
        Relative costs from :func:`relative_costs`.
    cost_weight : float
        λ ≥ 0, the quality–cost trade-off on the relative scale (0 = quality only).
    candidates : bool array, shape (n_models,), optional
        Models allowed to win; the others rank after every candidate.
    top : int, optional
        Return only the first ``top`` columns (``top=1`` is an argmax, not a sort).

    Returns
    -------
    int array, shape (n_queries, n_models) or (n_queries, top)
        Column indices, best first. Ties go to the cheaper model, then the lower index; models
        that cannot answer (NaN) or are not candidates come last.

    Example
    -------
    >>> rank(np.array([[0.9, 0.8, 0.2]]), np.array([1.0, 0.1, 0.0]), 0.5).tolist()
    [[1, 0, 2]]
    """
    s = np.asarray(scores, dtype=np.float64)
    n, m = s.shape
    cost = np.broadcast_to(np.asarray(rel_costs, dtype=np.float64), (n, m))
    u = utility(s, cost, cost_weight)
    if candidates is not None:
        u = np.where(np.asarray(candidates, dtype=bool), u, -np.inf)
    u = np.round(u, _TIE_DECIMALS)
    if top == 1:  # the hot path of select(): argmax with the same tie-break as the sort
        best = u.max(axis=1, keepdims=True)
        tie_cost = np.where(u == best, cost, np.inf)
        first: Array = tie_cost.argmin(axis=1)[:, None]
        return first
    if top is not None and n == 1 and m > 4 * top:  # one prompt, many models: partial sort
        row, c = u[0], cost[0]
        kth = np.partition(row, m - top)[m - top]  # the top-th largest utility
        keep = np.flatnonzero(row >= kth)  # ties at the boundary all stay in
        sub = np.lexsort((keep, c[keep], -row[keep]))
        return keep[sub][:top][None, :]
    cols = np.broadcast_to(np.arange(m), (n, m))
    order = np.lexsort((cols, cost, -u), axis=-1)
    return order if top is None else order[:, :top]


def select(
    scores: Array,
    costs: Array | None = None,
    *,
    cost_weight: float = 0.0,
    candidates: Array | None = None,
) -> Array:
    """Choose a model per query: the first of :func:`rank` on relative costs.

    Parameters
    ----------
    scores : array, shape (n_queries, n_models)
        Predicted quality (higher is better). NaN marks a model that cannot answer the query.
    costs : array, shape (n_models,) or (n_queries, n_models), optional
        Cost of each model (per query where given), in any unit: they are made relative to the
        dearest candidate (:func:`relative_costs`). ``None`` means cost is ignored.
    cost_weight : float
        λ, the quality–cost trade-off on the relative scale (0 = quality only).
    candidates : int or bool array, optional
        Restrict the choice to these model columns (indices or a mask of length n_models).

    Returns
    -------
    array of int, shape (n_queries,)
        Column index of the chosen model. Ties go to the cheaper model, then the lower index.

    Raises
    ------
    DataError
        ``scores`` not 2-D or ``costs`` of the wrong shape.
    NoEligibleModelError
        An empty candidate set, or a query where every candidate's score is NaN.

    Example
    -------
    >>> select(np.array([[0.9, 0.8]]), np.array([10.0, 1.0]), cost_weight=0.5).tolist()
    [1]
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2:
        raise DataError(f"scores must be 2-D (n_queries, n_models); found shape {scores.shape}")
    n, m = scores.shape
    cost = np.zeros(m) if costs is None else np.asarray(costs, dtype=np.float64)
    if cost.shape not in {(m,), (n, m)}:
        raise DataError(f"costs has shape {cost.shape}; expected ({m},) or ({n}, {m})")
    mask = None
    if candidates is not None:
        mask = np.zeros(m, dtype=bool)
        cand = np.asarray(candidates)
        mask[cand if cand.dtype != bool else np.flatnonzero(cand)] = True
        if not mask.any():
            raise NoEligibleModelError("candidate set is empty; expected at least one model")
    rel = relative_costs(cost, mask)
    choice = rank(scores, rel, cost_weight, candidates=mask, top=1)[:, 0]
    eligible = ~np.isnan(scores) if mask is None else ~np.isnan(scores) & mask
    no_option = ~eligible.any(axis=1)
    if no_option.any():
        raise NoEligibleModelError(
            f"{int(no_option.sum())} quer(y/ies) have no eligible model (all candidates NaN)"
        )
    return choice
