"""UniRoute with a learned soft assignment (LearnedMap; Jitkrittum et al., 2025, arXiv 2502.08773).

See :mod:`polyroute.routers._uniroute` for the method and the deviations from the paper."""

from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._base import Array
from polyroute.routers._support import DEFAULT_SAFETY
from polyroute.routers._uniroute import _TAU_GRID
from polyroute.routers._uniroute_pool import _ProfileRouter
from polyroute.routers._uniroute_profiles import (
    cluster_offsets,
    fit_shrink_strength,
    kmeans_centroids,
    l2_normalise,
    median_d2,
    prior_error,
    profile_counts,
    softmax_map,
    train_map,
)


# ---------------------------------------------------------------------------- learned map router
class LearnedMapRouter(_ProfileRouter):
    """UniRoute with a *learned* soft assignment of prompts to K clusters (LearnedMap).

    ``Φ(x) = softmax(W·x + b)`` is initialised at soft K-means (``W = 2μ_c/T``, ``b = −|μ_c|²/T``)
    and trained on the reference models' correctness: the training prompts are split in two
    halves; each reference model's profile Ψ is computed from one half with ``Φ`` (soft counts and
    the chosen smoothing, exactly as a new model would be profiled) and the binary cross-entropy
    of ``1 − Φ(x)·Ψ`` is minimised on the other half (both directions), plus ``l2·|W − W0|²``. The
    gradient flows through the profile estimate, so the map learns clusters whose *profiles*
    predict correctness. Optimised with L-BFGS (numpy/scipy, no torch).

    Parameters
    ----------
    n_clusters : int, default 20
    smoothing, alpha, shrink_strength
        As for :class:`ClusterRouter`.
    objective : {"log-loss", "centred"}, default "log-loss"
        What the map is trained to predict: each model's correctness (the paper), or the
        per-prompt *differences* between models (what routing decisions depend on).
    l2 : float, default 1e-3
        Penalty on the distance of W from its K-means initialisation.
    max_iter : int, default 150
        L-BFGS iterations.
    safety : float or None, default 0.9
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each model's mean training quality; None = off.
    random_state : int or None, default 0
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "n_clusters": (int, 1, None),
        "max_iter": (int, 0, None),
        "l2": (float, 0.0, None),
    }

    def __init__(
        self,
        *,
        n_clusters: int = 20,
        smoothing: str = "laplace",
        alpha: float = 1.0,
        shrink_strength: float | str = "auto",
        objective: str = "log-loss",
        l2: float = 1e-3,
        max_iter: int = 150,
        safety: float | None = DEFAULT_SAFETY,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.smoothing = smoothing
        self.alpha = alpha
        self.shrink_strength = shrink_strength
        self.objective = objective
        self.l2 = l2
        self.max_iter = max_iter
        self.safety = safety
        self.random_state = random_state

    def fit(
        self,
        X: Array,
        Y: Array,
        *,
        model_names: Sequence[str],
        tasks: Sequence[str] | None = None,
    ) -> Self:
        """Learn the soft map on the reference models' correctness, then profile them."""
        X, Y = self._validate_fit(X, Y, model_names)
        self._check_settings()
        if self.objective not in ("log-loss", "centred"):
            raise DataError(
                f"LearnedMapRouter.objective must be 'log-loss' or 'centred'; "
                f"found {self.objective!r}"
            )
        if self.n_clusters > len(X):
            raise DataError(f"n_clusters={self.n_clusters} exceeds the {len(X)} training prompts")
        X = l2_normalise(X)
        rng = np.random.default_rng(self.random_state)
        cent = kmeans_centroids(X, self.n_clusters, 2, int(rng.integers(2**31)))
        temp = _TAU_GRID[1] * median_d2(X, cent)
        W0 = np.vstack([2.0 * cent.T / temp, -(cent * cent).sum(1)[None, :] / temp])
        # Train on the columns in name order: the optimum of this non-convex objective must not
        # depend on the order the models were given in (floating-point summation order).
        Ys = Y[:, np.argsort(np.asarray(self.model_names_, dtype=str), kind="stable")]
        self.map_weights_ = train_map(
            X,
            Ys,
            W0.astype(np.float64),
            self._objective_prior(X, Ys, W0),
            l2=float(self.l2),
            max_iter=self.max_iter,
            rng=rng,
            objective=self.objective,
        )
        self.n_clusters_ = self.n_clusters
        self.n_features_in_ = X.shape[1]
        self.errors_, self.counts_ = profile_counts(self._responsibilities(X), Y)
        self._fit_smoothing()
        self.model_costs_ = np.full(Y.shape[1], np.nan)
        self._fit_support(X, Y, tasks)
        return self

    def _objective_prior(self, X: Array, Y: Array, W0: Array) -> tuple[Array, float]:
        """(prior (K, M), strength) of the smoothing used inside the training objective."""
        err, cnt = profile_counts(softmax_map(X, W0), Y)
        if self.smoothing == "laplace":
            return np.full(err.T.shape, 0.5), 2.0 * float(self.alpha)
        offsets = cluster_offsets(err, cnt) if self.smoothing == "hierarchical" else None
        prior = prior_error(err, cnt, offsets)
        strength = (
            fit_shrink_strength(err, cnt, prior)
            if self.shrink_strength == "auto"
            else float(self.shrink_strength)
        )
        return prior.T, strength

    def _responsibilities(self, X: Array) -> Array:
        return softmax_map(l2_normalise(X), self.map_weights_)
