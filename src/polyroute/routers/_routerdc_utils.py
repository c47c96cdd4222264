"""Numpy helpers of RouterDC (arXiv 2409.19886): pair selection, calibration, clusters, batches.

Kept apart from ``_routerdc.py`` so that the torch-free parts (inference, calibration, profiles)
stay small and testable on their own.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from scipy import optimize, special

Array = np.ndarray


def normalize(a: Array) -> Array:
    norm = np.linalg.norm(a, axis=-1, keepdims=True)
    return np.asarray(a / np.maximum(norm, 1e-12))


def gelu(a: Array) -> Array:
    return np.asarray(0.5 * a * (1.0 + special.erf(a / math.sqrt(2.0))))


def softmax(a: Array, axis: int = -1) -> Array:
    z = a - a.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=axis, keepdims=True))


def llm_pair_masks(
    Y: Array, *, n_positives: int, n_negatives: int, negative_threshold: float, rng: Any
) -> tuple[Array, Array]:
    """Positive and negative LLM masks, shape (n, m) each, for the sample–LLM loss.

    Positives: the ``n_positives`` highest scores, skipping scores of 0. Negatives: the
    ``n_negatives`` lowest, masked when above ``negative_threshold`` or already a positive.
    NaN scores are never chosen. Ties are broken at random with ``rng``.
    """
    valid = ~np.isnan(Y)
    jitter = rng.random(Y.shape) * 1e-6
    key_pos = np.where(valid, Y + jitter, -np.inf)
    top = np.argsort(-key_pos, axis=1, kind="stable")[:, :n_positives]
    pos = np.zeros(Y.shape, dtype=bool)
    np.put_along_axis(pos, top, True, axis=1)
    pos &= valid & (np.nan_to_num(Y) > 0)
    key_neg = np.where(valid, Y + jitter, np.inf)
    bottom = np.argsort(key_neg, axis=1, kind="stable")[:, :n_negatives]
    neg = np.zeros(Y.shape, dtype=bool)
    np.put_along_axis(neg, bottom, True, axis=1)
    neg &= valid & (np.nan_to_num(Y, nan=np.inf) <= negative_threshold) & ~pos
    return pos, neg


def sample_pairs(clusters: Array, *, n_negatives: int, rng: Any) -> tuple[Array, Array, Array]:
    """In-batch pairs for the sample–sample loss.

    Returns ``(pos, neg, neg_mask)``: ``pos`` (b,) the index of one same-cluster query (-1 where
    none is in the batch), ``neg`` (b, n_negatives) indices of other-cluster queries and
    ``neg_mask`` which of them are real.
    """
    b = len(clusters)
    same = (clusters[:, None] == clusters[None, :]) & ~np.eye(b, dtype=bool)
    other = clusters[:, None] != clusters[None, :]
    keys = rng.random((b, b))
    pos = np.where(same.any(axis=1), np.where(same, keys, -1.0).argmax(axis=1), -1)
    k = min(n_negatives, b)
    neg = np.argsort(np.where(other, -keys, np.inf), axis=1, kind="stable")[:, :k]
    neg_mask = np.take_along_axis(other, neg, axis=1)
    return pos, neg, neg_mask


def fit_calibration(logits: Array, Y: Array) -> Array:
    """``[a, b]`` of ``sigmoid(a * logit + b)`` minimising cross-entropy to ``Y`` (NaN ignored).

    ``Y`` may be fractional (pass rates); the loss is the Bernoulli cross-entropy with soft labels.
    """
    mask = ~np.isnan(Y)
    s, y = logits[mask].astype(np.float64), Y[mask].astype(np.float64)

    def loss(theta: Array) -> tuple[float, Array]:
        z = theta[0] * s + theta[1]
        p = special.expit(z)
        value = float(np.mean(np.logaddexp(0.0, z) - y * z))
        grad = p - y
        return value, np.array([np.mean(grad * s), np.mean(grad)])

    res = optimize.minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    a, b = res.x
    if a <= 0:  # keep the map increasing, so argmax quality == argmax similarity
        a, b = 1e-6, float(special.logit(np.clip(y.mean(), 1e-6, 1 - 1e-6)))
    return np.array([a, b], dtype=np.float64)


def fit_assignment_temperature(sims: Array, clusters: Array) -> float:
    """Temperature of ``softmax(sims / t)`` maximising the likelihood of ``clusters``."""

    def nll(log_t: float) -> float:
        z = sims / math.exp(log_t)
        return float(np.mean(special.logsumexp(z, axis=1) - z[np.arange(len(z)), clusters]))

    res = optimize.minimize_scalar(nll, bounds=(math.log(1e-3), math.log(10.0)), method="bounded")
    return float(math.exp(res.x))


def cluster_profiles(Y: Array, clusters: Array, n_clusters: int) -> Array:
    """Mean score per (cluster, LLM), NaN-aware; empty cells fall back to the LLM's overall mean."""
    overall = np.nanmean(Y, axis=0) if np.isfinite(Y).any() else np.zeros(Y.shape[1])
    overall = np.nan_to_num(overall, nan=0.0)
    prof = np.tile(overall, (n_clusters, 1))
    for c in range(n_clusters):
        rows = Y[clusters == c]
        if rows.size:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(rows, axis=0)
            prof[c] = np.where(np.isnan(mean), overall, mean)
    return prof


def kmeans_clusters(X: Array, n_clusters: int, seed: int) -> Array:
    from sklearn.cluster import KMeans

    k = min(n_clusters, len(X))
    return np.asarray(KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(normalize(X)))


class BatchSampler:
    """Shuffled passes over the training rows, ``batch`` rows at a time."""

    def __init__(self, rows: Array, batch: int, rng: Any) -> None:
        self.rows, self.batch, self.rng = rows, batch, rng
        self._queue = np.empty(0, dtype=np.int64)

    def next(self) -> Array:
        if len(self._queue) < self.batch:
            self._queue = np.concatenate([self._queue, self.rng.permutation(self.rows)])
        out, self._queue = self._queue[: self.batch], self._queue[self.batch :]
        return out


def holdout_split(n: int, clusters: Array, fraction: float, rng: Any) -> tuple[Array, Array]:
    """Stratified (by cluster) held-out rows; tiny clusters stay entirely in training."""
    if fraction <= 0:
        return np.arange(n), np.empty(0, dtype=np.int64)
    hold: list[Array] = []
    for c in np.unique(clusters):
        rows = rng.permutation(np.flatnonzero(clusters == c))
        k = round(fraction * len(rows))
        if len(rows) - k >= 1:
            hold.append(rows[:k])
    held = np.sort(np.concatenate(hold)) if hold else np.empty(0, dtype=np.int64)
    train = np.setdiff1d(np.arange(n), held)
    return train, held


def soft_profiles(assign: Array, Y: Array, strength: float = 10.0) -> Array:
    """(n_clusters, n_new) mean scores under soft assignments, shrunk to the overall mean."""
    mask = ~np.isnan(Y)
    y = np.nan_to_num(Y)
    overall = (y * mask).sum(0) / np.maximum(mask.sum(0), 1)
    num = assign.T @ (y * mask)
    den = assign.T @ mask.astype(np.float64)
    return np.asarray((num + strength * overall) / (den + strength))


class progress_bar:
    """A tqdm bar (or a no-op) as a context manager."""

    def __init__(self, total: int, enabled: bool | None, desc: str) -> None:
        from tqdm.auto import tqdm

        disable = None if enabled is None else not enabled  # None: only on a terminal
        self._bar = tqdm(total=total, disable=disable, desc=desc, leave=False)

    def __enter__(self) -> Any:
        return self._bar

    def __exit__(self, *exc: object) -> None:
        self._bar.close()
