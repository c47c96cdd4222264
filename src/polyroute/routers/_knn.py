"""k-nearest-neighbour router: a query's predicted quality for each model is the mean observed
quality of that model on the k most similar training prompts (cosine similarity of embeddings).

This is the K-NN baseline of UniRoute (arXiv 2502.08773) and of RouterBench (arXiv 2403.12031).
Search is exact (brute-force matrix product in blocks), which is fast enough for tens of thousands
of training prompts. With ``n_neighbors="auto"`` k is chosen by K-fold cross-validation on the
training set only, maximising the mean observed quality of the model each held-out prompt is
routed to at λ = 0 (ties go to the smaller k).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._base import BaseRouter
from polyroute.routers._baselines import _column_means

Array = np.ndarray
AUTO_GRID = (5, 10, 20, 50, 100, 200)
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


def _mean_over(neigh: Array, Y: Array, fallback: Array) -> Array:
    """Mean of ``Y`` over the neighbour rows (NaN ignored); ``fallback`` where none is known."""
    vals = Y[neigh]  # (q, k, m)
    known = ~np.isnan(vals)
    counts = known.sum(axis=1)
    sums = np.where(known, vals, 0.0).sum(axis=1)
    mean = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return np.where(counts > 0, mean, fallback)


class KNNRouter(BaseRouter):
    """Mean quality of the k nearest training prompts (cosine similarity).

    Parameters
    ----------
    n_neighbors : int or "auto", default "auto"
        k; ``"auto"`` picks it from ``(5, 10, 20, 50, 100, 200)`` by ``cv_folds``-fold
        cross-validation on the training data (values above the fold size are skipped).
    cv_folds : int, default 5
    random_state : int or None
        Seed of the cross-validation fold assignment.

    Attributes
    ----------
    n_neighbors_ : int
        The k used.
    cv_scores_ : dict
        ``{str(k): mean routed quality}`` from cross-validation (empty when k was given).

    Example
    -------
    >>> X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    >>> Y = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> r = KNNRouter(n_neighbors=1).fit(X, Y, model_names=["a", "b"])
    >>> r.predict_scores(np.array([[0.1, 1.0]])).tolist()
    [[0.0, 1.0]]
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "cv_folds": (int, 2, None),
    }

    def __init__(
        self, *, n_neighbors: int | str = "auto", cv_folds: int = 5, random_state: int | None = 0
    ) -> None:
        self.n_neighbors = n_neighbors
        self.cv_folds = cv_folds
        self.random_state = random_state

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        k = self.n_neighbors
        if k != "auto" and (not isinstance(k, int | np.integer) or isinstance(k, bool) or k < 1):
            raise DataError(f"KNNRouter.n_neighbors must be a positive int or 'auto'; found {k!r}")
        X, Y = self._validate_fit(X, Y, model_names)
        self.n_features_in_ = int(X.shape[1])
        self.X_ = _normalise(X)
        self.Y_ = Y.astype(np.float32)
        self.fallback_ = _column_means(Y)
        if k == "auto":
            scores = self._cross_validate(self.X_, Y)
            self.n_neighbors_ = max(scores, key=lambda kk: (scores[kk], -kk))
            self.cv_scores_ = {str(kk): v for kk, v in scores.items()}
        else:
            self.cv_scores_ = {}
            self.n_neighbors_ = int(min(k, len(X)))
        return self

    def predict_scores(self, X: Array) -> Array:
        Q = _normalise(self._check_X(X))
        Y = self.Y_.astype(np.float64)
        blocks = [
            _mean_over(nb, Y, self.fallback_)
            for nb in _neighbours(Q, self.X_, int(self.n_neighbors_))
        ]
        return np.concatenate(blocks) if blocks else np.zeros((0, len(self.model_names_)))

    def _cross_validate(self, X: Array, Y: Array) -> dict[int, float]:
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        folds = rng.permutation(n) % self.cv_folds
        smallest_train = n - np.bincount(folds, minlength=self.cv_folds).max()
        grid = [k for k in AUTO_GRID if k <= smallest_train] or [max(1, smallest_train)]
        # Canonical (name-sorted) column order, so argmax ties do not depend on column order.
        order = np.argsort(np.asarray(self.model_names_, dtype=object), kind="stable")
        Yc = Y[:, order]
        totals = dict.fromkeys(grid, 0.0)
        for f in range(self.cv_folds):
            tr, te = np.flatnonzero(folds != f), np.flatnonzero(folds == f)
            fallback = _column_means(Yc[tr])
            truth = np.nan_to_num(Yc[te], nan=0.0)
            start = 0
            for nb in _neighbours(X[te], X[tr], max(grid)):
                rows = truth[start : start + len(nb)]
                for k in grid:
                    pred = _mean_over(nb[:, :k], Yc[tr], fallback)
                    totals[k] += float(rows[np.arange(len(rows)), pred.argmax(axis=1)].sum())
                start += len(nb)
        return {k: totals[k] / n for k in grid}
