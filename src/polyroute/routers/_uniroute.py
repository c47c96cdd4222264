"""UniRoute cluster routers for dynamic pools (Jitkrittum et al., 2025, arXiv 2502.08773).

A prompt ``x`` is mapped to clusters ``Φ(x)`` (a one-hot K-means assignment, a softmax over
centroid distances, or a learned soft map); every model ``m`` has a profile ``Ψ[m, c]``, its error
rate on validation prompts of cluster ``c``. The predicted quality is ``1 − Σ_c Φ_c(x)·Ψ[m, c]`` and
routing is the base rule ``argmax (1 − Ψ) − λ·cost`` (== the paper's ``argmin Ψ + λ·cost``).
A new model joins by profiling it on graded validation prompts (:meth:`add_models`): the
representation is never refitted.

Profiles are kept as *counts* (``errors_``, ``counts_``; soft counts under soft assignment), so
more graded outcomes update a profile incrementally (:meth:`ClusterRouter.update_profile`).

Deviations from the paper, all optional (the defaults reproduce the paper):

* ``smoothing="shrink"``: empirical Bayes; a cluster's error is shrunk towards the *model's
  overall* error instead of towards 0.5, with a strength fitted by beta-binomial marginal
  likelihood over the reference models' profiles.
* ``smoothing="hierarchical"``: as ``"shrink"`` but the prior of cluster ``c`` is the model's overall
  error shifted (in logit space) by how much harder ``c`` is than average for the reference models.
* ``assignment="soft"``: expected error under a softmax over −squared distance / temperature.
* ``n_clusters="multi"``: one K-means clustering per K of ``cluster_grid``, each with its own
  profile cells; the prediction is the average over the clusterings (multi-resolution ensemble).
* LearnedMap ``objective="centred"``: the map is trained on the per-prompt differences between
  models instead of each model's correctness.
* ``n_clusters="auto"`` (and ``temperature="auto"``, ``shrink_strength="auto"``): chosen by
  *simulated onboarding* of the reference (training) models on held-out training prompts: each
  reference model is profiled from ``n_onboard_prompts`` prompts, as a new model would be, and
  scored on the rest by the squared error of the *differences between models* per prompt (the
  routing decision depends on nothing else: a shift common to all models never changes it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._base import Array
from polyroute.routers._support import DEFAULT_SAFETY
from polyroute.routers._uniroute_pool import _ProfileRouter
from polyroute.routers._uniroute_profiles import (
    _ASSIGNMENTS,
    centred_error,
    cluster_offsets,
    fit_shrink_strength,
    kmeans_centroids,
    l2_normalise,
    median_d2,
    prior_error,
    profile_counts,
    smoothed_error,
    soft_assign,
)


# ---------------------------------------------------------------------------- K-means router
class ClusterRouter(_ProfileRouter):
    """UniRoute with K-means clusters of prompt embeddings and per-cluster error profiles.

    Parameters
    ----------
    n_clusters : int, "auto" or "multi", default 20
        K. ``"auto"`` picks K from ``cluster_grid`` by simulated onboarding (module docstring);
        ``"multi"`` uses one clustering per K in ``cluster_grid`` and averages their predictions
        (a multi-resolution ensemble; every clustering keeps its own profile cells).
    smoothing : {"laplace", "shrink", "hierarchical"}, default "laplace"
        ``"laplace"``: the paper's ``(err + α)/(n + 2α)`` (0.5 for an empty cluster).
        ``"shrink"``: towards the model's overall error; ``"hierarchical"``: towards the model's
        overall error shifted by the cluster's difficulty for the reference models.
    alpha : float, default 1.0
        Laplace pseudo-count α.
    shrink_strength : float or "auto", default "auto"
        Pseudo-count of the shrinkage prior; ``"auto"`` = beta-binomial marginal likelihood.
    assignment : {"hard", "soft"}, default "hard"
        Nearest centroid, or softmax over −squared distance / temperature (expected error).
    temperature : float or "auto", default "auto"
        Soft-assignment temperature (absolute, in squared-distance units); ignored when hard.
    cluster_grid : tuple of int, default (4, 8, 16, 32, 64)
        Candidate K for ``n_clusters="auto"``, the clusterings of ``"multi"``.
    n_onboard_prompts : int, default 400
        Validation-set size a new model is expected to bring (used by the automatic choices).
    n_init : int, default 2
        K-means restarts.
    safety : float or None, default 0.9
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each model's mean training quality; None = off.
    random_state : int or None, default 0
        Seed of K-means and of the selection splits.

    Example
    -------
    >>> router = ClusterRouter(n_clusters=8, random_state=0).fit(X, Y, model_names=names)
    >>> router.add_models(X_val, y_new[:, None], ["new-llm"]).route(X_test, costs, cost_weight=0.1)
    """

    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "n_init": (int, 1, None),
        "n_onboard_prompts": (int, 1, None),
    }

    def __init__(
        self,
        *,
        n_clusters: int | str = 20,
        smoothing: str = "laplace",
        alpha: float = 1.0,
        shrink_strength: float | str = "auto",
        assignment: str = "hard",
        temperature: float | str = "auto",
        cluster_grid: tuple[int, ...] = (4, 8, 16, 32, 64),
        n_onboard_prompts: int = 400,
        n_init: int = 2,
        safety: float | None = DEFAULT_SAFETY,
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.smoothing = smoothing
        self.alpha = alpha
        self.shrink_strength = shrink_strength
        self.assignment = assignment
        self.temperature = temperature
        self.cluster_grid = cluster_grid
        self.n_onboard_prompts = n_onboard_prompts
        self.n_init = n_init
        self.safety = safety
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Array,
        Y: Array,
        *,
        model_names: Sequence[str],
        tasks: Sequence[str] | None = None,
    ) -> Self:
        """Cluster the training prompts and profile the training (reference) models on them."""
        X, Y = self._validate_fit(X, Y, model_names)
        self._check_cluster_params(len(X))
        X = l2_normalise(X)
        rng = np.random.default_rng(self.random_state)
        ks, tau, strength = self._choose(X, Y, rng)
        blocks = [kmeans_centroids(X, k, self.n_init, int(rng.integers(2**31))) for k in ks]
        self.block_sizes_ = np.array([len(c) for c in blocks], dtype=np.int64)
        self.n_clusters_ = int(self.block_sizes_.sum())
        self.centroids_ = np.vstack(blocks)
        self.temperatures_ = np.array(
            [
                np.nan if t is None else t
                for t in (self._abs_temperature(tau, median_d2(X, c)) for c in blocks)
            ]
        )
        self.errors_, self.counts_ = profile_counts(self._responsibilities(X), Y)
        self._fit_smoothing()
        if strength is not None:
            self.shrink_strength_ = strength
        self.model_costs_ = np.full(Y.shape[1], np.nan)
        self.n_features_in_ = X.shape[1]
        self._fit_support(X, Y, tasks)
        return self

    def _check_cluster_params(self, n_rows: int) -> None:
        self._check_settings()
        name = type(self).__name__
        if self.assignment not in _ASSIGNMENTS:
            raise DataError(
                f"{name}.assignment must be one of {_ASSIGNMENTS}; found {self.assignment!r}"
            )
        ks: list[Any] = (
            [self.n_clusters]
            if self.n_clusters not in ("auto", "multi")
            else list(self.cluster_grid)
        )
        if not ks or any(
            isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 for k in ks
        ):
            raise DataError(
                f"{name}.n_clusters must be an int >= 1, 'auto' or 'multi' (with a "
                "non-empty "
                f"int cluster_grid); found {self.n_clusters!r} / {self.cluster_grid!r}"
            )
        if min(ks) > n_rows:
            raise DataError(f"{name}: n_clusters={min(ks)} exceeds the {n_rows} training prompts")
        t = self.temperature
        if t != "auto" and (isinstance(t, bool) or not isinstance(t, (int, float)) or t <= 0):
            raise DataError(f"{name}.temperature must be 'auto' or a number > 0; found {t!r}")

    def _responsibilities(self, X: Array) -> Array:
        return _assign_blocks(
            l2_normalise(X),
            _split_blocks(self.centroids_, self.block_sizes_),
            [None if np.isnan(t) else float(t) for t in self.temperatures_],
        )

    def _n_blocks(self) -> int:
        return len(self.block_sizes_)

    def _cell_labels(self) -> list[str]:
        if len(self.block_sizes_) == 1:
            return super()._cell_labels()
        return [f"K{k}:{j}" for k in self.block_sizes_.tolist() for j in range(k)]

    # ------------------------------------------------------------------ automatic choices
    def _choose(
        self, X: Array, Y: Array, rng: np.random.Generator
    ) -> tuple[tuple[int, ...], float | None, float | None]:
        """(K per clustering, relative temperature τ, shrink strength) — by simulated onboarding
        where 'auto'. τ is None for hard assignment or a fixed temperature; the strength is None
        unless it was chosen here (then it replaces the beta-binomial estimate)."""
        grid = tuple(int(k) for k in self.cluster_grid)
        configs = (
            [(k,) for k in grid]
            if self.n_clusters == "auto"
            else [grid]
            if self.n_clusters == "multi"
            else [(int(self.n_clusters),)]
        )
        auto_t = self.assignment == "soft" and self.temperature == "auto"
        taus: list[float | None] = list(_TAU_GRID) if auto_t else [None]
        auto_s = self.smoothing != "laplace" and self.shrink_strength == "auto"
        if len(configs) == 1 and len(taus) == 1 and not auto_s:
            return configs[0], None, None
        rows = rng.permutation(len(X))
        n_b = max(min(len(X) // 3, 4 * self.n_onboard_prompts), 2)
        b_rows, a_rows = rows[:n_b], rows[n_b:]
        best: tuple[float, tuple[int, ...], float | None, float | None] = (
            np.inf,
            configs[0],
            taus[0],
            None,
        )
        splits = [rng.permutation(len(b_rows)) for _ in range(3)]
        for ks in configs:
            if min(ks) > len(a_rows):
                continue
            cents = [kmeans_centroids(X[a_rows], k, 1, int(rng.integers(2**31))) for k in ks]
            meds = [median_d2(X[a_rows], c) for c in cents]
            for tau in taus:
                temps = [self._abs_temperature(tau, m) for m in meds]
                R_a = _assign_blocks(X[a_rows], cents, temps)
                R_b = _assign_blocks(X[b_rows], cents, temps)
                for loss, strength in self._simulated_losses(
                    R_a, Y[a_rows], R_b, Y[b_rows], len(ks), splits, auto_s
                ):
                    if loss < best[0]:
                        best = (loss, ks, tau, strength)
        return best[1], best[2], best[3]

    def _abs_temperature(self, tau: float | None, median_d2: float) -> float | None:
        if self.assignment == "hard":
            return None
        if self.temperature != "auto":
            return float(self.temperature)
        return float((tau if tau is not None else _TAU_GRID[1]) * median_d2)

    def _simulated_losses(
        self,
        R_a: Array,
        Y_a: Array,
        R_b: Array,
        Y_b: Array,
        n_blocks: int,
        splits: list[Array],
        auto_s: bool,
    ) -> list[tuple[float, float | None]]:
        """(loss, strength) of reference models profiled from n_onboard_prompts held-out prompts.

        The loss is the *model-centred* squared error: routing decisions depend only on the
        differences between models' predicted quality on a prompt, so a shift common to all
        models is not penalised.
        """
        err_a, cnt_a = profile_counts(R_a, Y_a)
        offsets = cluster_offsets(err_a, cnt_a)
        strengths: list[float | None] = [None]
        if self.smoothing != "laplace":
            if auto_s:
                off = offsets if self.smoothing == "hierarchical" else None
                mle = fit_shrink_strength(err_a, cnt_a, prior_error(err_a, cnt_a, off))
                strengths = [*_STRENGTH_GRID, mle]
            else:
                strengths = [float(self.shrink_strength)]
        n_p = min(self.n_onboard_prompts, len(Y_b) - 1)
        folds = []
        for perm in splits:
            prof, ev = perm[:n_p], perm[n_p:]
            folds.append((*profile_counts(R_b[prof], Y_b[prof]), R_b[ev], Y_b[ev]))
        out = []
        for strength in strengths:
            losses = [
                centred_error(
                    1.0
                    - R_ev
                    @ smoothed_error(
                        err,
                        cnt,
                        smoothing=self.smoothing,
                        alpha=float(self.alpha),
                        strength=1.0 if strength is None else strength,
                        offsets=offsets,
                    ).T
                    / n_blocks,
                    Y_ev,
                )
                for err, cnt, R_ev, Y_ev in folds
            ]
            out.append((float(np.mean(losses)), strength))
        return out


def _split_blocks(centroids: Array, sizes: Array) -> list[Array]:
    return np.split(centroids, np.cumsum(sizes)[:-1])


def _assign_blocks(X: Array, blocks: list[Array], temps: list[float | None]) -> Array:
    """Responsibilities of every clustering side by side (each block's rows sum to 1)."""
    return np.hstack([soft_assign(X, c, t) for c, t in zip(blocks, temps, strict=True)])


#: Relative temperatures tried (multiples of the median squared distance to the nearest centroid).
_TAU_GRID = (0.01, 0.03, 0.1, 0.3)
#: Shrinkage pseudo-counts tried by simulated onboarding (plus the beta-binomial estimate).
_STRENGTH_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
