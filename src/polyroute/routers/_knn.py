"""k-nearest-neighbour router: a query's predicted quality for each model is the mean observed
quality of that model on the k most similar training prompts (cosine similarity of embeddings).

This is the K-NN baseline of UniRoute (arXiv 2502.08773) and of RouterBench (arXiv 2403.12031).
Search is exact (brute-force matrix product in blocks), which is fast enough for tens of thousands
of training prompts. With ``n_neighbors="auto"`` k is chosen by K-fold cross-validation on the
training set only, maximising the mean observed quality of the model each held-out prompt is
routed to at λ = 0 (ties go to the smaller k).

Deviation from the baselines of the papers: the neighbour mean is shrunk towards each model's mean
training quality with ``prior_strength`` pseudo-neighbours (chosen with k by the same
cross-validation). On 0/1 labels many models tie at a neighbour mean of 1.0 or 0.0; the prior
breaks such ties towards the model that is better overall, never towards the cheapest one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._base import BaseRouter
from polyroute.routers._baselines import _column_means
from polyroute.routers._support import DEFAULT_SAFETY

Array = np.ndarray
AUTO_GRID = (5, 10, 20, 50, 100, 200)
PRIOR_GRID = (1.0, 4.0, 16.0)
_BLOCK = 1024


def _normalise(X: Array) -> Array:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return (X / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _neighbours(Q: Array, X: Array, k: int, *, exclude_self: bool = False) -> Iterator[Array]:
    """Yield, block by block of ``Q``, the indices of the ``k`` most similar rows of ``X``,
    sorted from most to least similar (ties by lower index)."""
    for start in range(0, len(Q), _BLOCK):
        sims = Q[start : start + _BLOCK] @ X.T
        if exclude_self:
            sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        kk = min(k, X.shape[0])
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        part.sort(axis=1)  # index order first, so the stable sort below breaks ties by index
        order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1, kind="stable")
        yield np.take_along_axis(part, order, axis=1)


def _mean_over(neigh: Array, Y: Array, prior: Array, strength: float) -> Array:
    """Mean of ``Y`` over the neighbour rows (NaN ignored) with ``strength`` pseudo-neighbours
    at ``prior``; ``prior`` where no neighbour is known."""
    vals = Y[neigh]  # (q, k, m)
    known = ~np.isnan(vals)
    counts = known.sum(axis=1) + strength
    sums = np.where(known, vals, 0.0).sum(axis=1) + strength * prior
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.where(counts > 0, mean, prior)


class KNNRouter(BaseRouter):
    """Mean quality of the k nearest training prompts (cosine similarity).

    Parameters
    ----------
    n_neighbors : int or "auto", default "auto"
        k; ``"auto"`` picks it from ``(5, 10, 20, 50, 100, 200)`` by ``cv_folds``-fold
        cross-validation on the training data (values above the fold size are skipped).
    prior_strength : float or "auto", default "auto"
        Pseudo-neighbours at each model's mean training quality; ``"auto"`` picks it from
        ``(1, 4, 16)`` with k by the same cross-validation.
    cv_folds : int, default 5
    safety : float or None, default 0.9
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each model's mean training quality; None = off.
    random_state : int or None
        Seed of the cross-validation fold assignment.

    Attributes
    ----------
    n_neighbors_ : int
        The k used.
    prior_strength_ : float
        The pseudo-count used.
    cv_scores_ : dict
        ``{"k/strength": mean routed quality}`` from cross-validation (empty when both were given).

    Example
    -------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> r = KNNRouter(n_neighbors=1, prior_strength=0, safety=None).fit(X, Y, model_names=["a", "b"])
    >>> r.predict_scores(np.array([[0.1, 1.0]])).tolist()
    [[0.0, 1.0]]
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "cv_folds": (int, 2, None),
    }

    def __init__(
        self,
        *,
        n_neighbors: int | str = "auto",
        prior_strength: float | str = "auto",
        cv_folds: int = 5,
        safety: float | None = DEFAULT_SAFETY,
        random_state: int | None = 0,
    ) -> None:
        self.n_neighbors = n_neighbors
        self.prior_strength = prior_strength
        self.cv_folds = cv_folds
        self.safety = safety
        self.random_state = random_state

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        k = self.n_neighbors
        if k != "auto" and (not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1):
            raise DataError(f"KNNRouter.n_neighbors must be a positive int or 'auto'; found {k!r}")
        s = self.prior_strength
        if s != "auto" and (isinstance(s, bool) or not isinstance(s, int | float) or s < 0):
            raise DataError(
                f"KNNRouter.prior_strength must be a number >= 0 or 'auto'; found {s!r}"
            )
        X, Y = self._validate_fit(X, Y, model_names)
        self.n_features_in_ = int(X.shape[1])
        self.X_ = _normalise(X)
        self.Y_ = Y.astype(np.float32)
        self.fallback_ = _column_means(Y)
        if k == "auto" or s == "auto":
            scores = self._cross_validate(self.X_, Y)
            best_k, best_s = max(scores, key=lambda ks: (scores[ks], -ks[0], ks[1]))
            self.cv_scores_ = {f"{kk}/{ss:g}": v for (kk, ss), v in scores.items()}
        else:
            self.cv_scores_ = {}
            best_k, best_s = int(k), float(s)
        self.n_neighbors_ = int(min(best_k, len(X)))
        self.prior_strength_ = float(best_s)
        self._fit_support(X, Y, tasks)
        return self

    def _predict_quality(self, X: Array) -> Array:
        Q = _normalise(self._check_X(X))
        Y = self.Y_.astype(np.float64)
        strength = float(getattr(self, "prior_strength_", 0.0))  # 0 in artifacts saved before it
        blocks = [
            _mean_over(nb, Y, self.fallback_, strength)
            for nb in _neighbours(Q, self.X_, int(self.n_neighbors_))
        ]
        return np.concatenate(blocks) if blocks else np.zeros((0, len(self.model_names_)))

    def _cross_validate(self, X: Array, Y: Array) -> dict[tuple[int, float], float]:
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        folds = rng.permutation(n) % self.cv_folds
        smallest_train = n - np.bincount(folds, minlength=self.cv_folds).max()
        if self.n_neighbors == "auto":
            grid = [k for k in AUTO_GRID if k <= smallest_train] or [max(1, smallest_train)]
        else:
            grid = [int(min(int(self.n_neighbors), smallest_train))]
        strengths = (
            list(PRIOR_GRID) if self.prior_strength == "auto" else [float(self.prior_strength)]
        )
        # Canonical (name-sorted) column order, so argmax ties do not depend on column order.
        order = np.argsort(np.asarray(self.model_names_, dtype=object), kind="stable")
        Yc = Y[:, order]
        totals = {(k, s): 0.0 for k in grid for s in strengths}
        for f in range(self.cv_folds):
            tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            fallback = _column_means(Yc[tr])
            truth = np.nan_to_num(Yc[te], nan=0.0)
            start = 0
            for nb in _neighbours(X[te], X[tr], max(grid)):
                rows = truth[start : start + len(nb)]
                for k, s in totals:
                    pred = _mean_over(nb[:, :k], Yc[tr], fallback, s)
                    totals[k, s] += float(rows[np.arange(len(rows)), pred.argmax(axis=1)].sum())
                start += len(nb)
        return {key: value / n for key, value in totals.items()}
