"""Support: how well a router's training data covers a prompt, and the safe rule built on it.

**Signal.** ``f(x)``: the mean cosine similarity of ``x`` to its ``n_neighbors`` nearest training
prompts (measured against distances to K-means centroids and other k in
``docs/results/shift_support.md``; this one separates prompts of unseen tasks best on every dataset).

**Scale.** The signal is calibrated leave-one-task-out *on the training data*: each training task in
turn plays an unseen task, its prompts scored against the other tasks' prompts (``f_out``), and the
other tasks' prompts scored against their own task without themselves (``f_in``). Support is

``s(x) = clip((f(x) − lo) / (hi − lo), 0, 1)``,  ``hi`` = the ``(1 − safety)``-quantile of
``f_in``, ``lo`` = the ``safety``-quantile of ``f_out`` (at most ``hi``),

so a share ``safety`` of the prompts of tasks the router never saw get ``s = 0`` and the same share
of prompts like the training tasks' get ``s = 1``; where the two overlap, ``lo = hi`` and support is
a step at ``hi``. Without task labels the training prompts are split into K-means pseudo-tasks.

**Safe rule.** ``quality = prior + s·(predicted − prior)``: with no support the prediction is the
query-blind prior (each model's mean training quality), so the choice ``argmax quality − λ·cost`` is
the best overall model at λ = 0 and ZeroRouter's choice at any λ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
_BLOCK = 2048
#: Reference prompts kept for the support signal (a random subset of larger training sets).
MAX_REFERENCE = 4096
N_NEIGHBORS = 1
#: Default ``safety`` of the learned routers (docs/results/shift.md: chosen leave-one-task-out on training rows).
DEFAULT_SAFETY = 0.9
_N_PSEUDO_TASKS = 8


def unit_rows(X: Array) -> Array:
    X = np.asarray(X, dtype=np.float32)
    return np.asarray(X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12))


def top_k_similarity(
    Q: Array, ref: Array, k: int, *, exclude: Array | None = None, ref_is_unit: bool = False
) -> Array:
    """Mean cosine similarity of each row of ``Q`` to its ``k`` most similar rows of ``ref``.

    ``exclude[i]`` (an index into ``ref``, or −1) is left out for query ``i`` (itself).
    ``ref_is_unit`` says ``ref`` already holds float32 unit rows (the request path keeps it so).
    """
    Q = unit_rows(Q)
    if not ref_is_unit:
        ref = unit_rows(ref)
    k = max(1, min(int(k), len(ref) - (0 if exclude is None else 1)))
    out = np.empty(len(Q), dtype=np.float64)
    for start in range(0, len(Q), _BLOCK):
        sims = Q[start : start + _BLOCK] @ ref.T
        if exclude is not None:
            ex = exclude[start : start + _BLOCK]
            rows = np.flatnonzero(ex >= 0)
            sims[rows, ex[rows]] = -np.inf
        top = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
        out[start : start + len(sims)] = top.mean(axis=1)
    return out


def kmeans_reference(X: Array, n_clusters: int, seed: int) -> Array:
    """Unit-norm K-means centroids of ``X`` (the alternative signal measured in the bench)."""
    from polyroute.routers._uniroute_profiles import kmeans_centroids

    return unit_rows(kmeans_centroids(unit_rows(X), min(n_clusters, len(X)), 1, seed))


@dataclass(frozen=True)
class SupportScale:
    """What a fitted router keeps: reference prompts and the two anchors of the scale."""

    reference: Array  # (n_ref, n_dims), unit rows, float16 on disk
    low: float
    high: float

    def support(self, X: Array) -> Array:
        f = top_k_similarity(X, self.reference.astype(np.float32), N_NEIGHBORS)
        return support_from_similarity(f, self.low, self.high)


def support_from_similarity(f: Array, low: float, high: float) -> Array:
    return np.clip((f - low) / max(high - low, 1e-6), 0.0, 1.0)


def fit_support(
    X: Array, tasks: Sequence[str] | None, *, safety: float, seed: int = 0
) -> SupportScale:
    """Calibrate the support scale by leave-one-task-out on the training prompts ``X``."""
    X = unit_rows(X)
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.permutation(len(X))[:MAX_REFERENCE])
    ref = X[keep]
    groups = _task_groups(ref, None if tasks is None else np.asarray(tasks)[keep], seed)
    f_in = top_k_similarity(ref, ref, N_NEIGHBORS, exclude=np.arange(len(ref)))
    f_out_parts = []
    for g in np.unique(groups):
        mine = groups == g
        if mine.all():
            continue
        f_out_parts.append(top_k_similarity(ref[mine], ref[~mine], N_NEIGHBORS))
    high = float(np.quantile(f_in, 1.0 - safety))
    low = float(np.quantile(np.concatenate(f_out_parts), safety)) if f_out_parts else -1.0
    return SupportScale(reference=ref.astype(np.float16), low=min(low, high), high=high)


def _task_groups(X: Array, tasks: Array | None, seed: int) -> Array:
    """Task label per prompt; K-means pseudo-tasks when there are fewer than 2 tasks."""
    if tasks is not None and len(np.unique(tasks.astype(str))) >= 2:
        return np.unique(tasks.astype(str), return_inverse=True)[1]
    if len(X) < 2 * _N_PSEUDO_TASKS:
        return np.zeros(len(X), dtype=np.int64)
    from polyroute.routers._uniroute_profiles import kmeans_centroids

    cent = kmeans_centroids(X, _N_PSEUDO_TASKS, 1, seed)
    return np.asarray((X @ cent.T).argmax(axis=1))


def shrink_to_prior(quality: Array, support: Array, prior: Array) -> Array:
    """``prior + s·(quality − prior)`` per query (the safe rule)."""
    s = support[:, None]
    return np.asarray(prior[None, :] + s * (quality - prior[None, :]))


def prior_quality(Y: Array) -> Array:
    """Each model's mean training quality ignoring NaN (0.5 for a model with no score)."""
    Y = np.asarray(Y, dtype=np.float64)
    known = ~np.isnan(Y)
    counts = known.sum(axis=0)
    sums = np.where(known, Y, 0.0).sum(axis=0)
    return np.asarray(np.divide(sums, counts, out=np.full(Y.shape[1], 0.5), where=counts > 0))
