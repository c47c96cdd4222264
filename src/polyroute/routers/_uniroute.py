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

from polyroute.exceptions import DataError, NotFittedError
from polyroute.routers._base import Array, BaseRouter
from polyroute.routers._uniroute_profiles import (
    _ASSIGNMENTS,
    _EPS,
    _SMOOTHINGS,
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
    softmax_map,
    train_map,
)


# ---------------------------------------------------------------------------- base profile logic
class _ProfileRouter(BaseRouter):
    """Shared profile table (counts, smoothing, add/remove/update models, summaries)."""

    supports_new_models: ClassVar[bool] = True

    # subclasses implement _responsibilities(X) -> (n, K)
    def _responsibilities(self, X: Array) -> Array:
        raise NotImplementedError

    # ------------------------------------------------------------------ profiles
    def _check_settings(self) -> None:
        if self.smoothing not in _SMOOTHINGS:
            raise DataError(
                f"{type(self).__name__}.smoothing must be one of {_SMOOTHINGS}; "
                f"found {self.smoothing!r}"
            )
        if not isinstance(self.alpha, (int, float)) or self.alpha <= 0:
            raise DataError(
                f"{type(self).__name__}.alpha must be a number > 0; found {self.alpha!r}"
            )
        s = self.shrink_strength
        if s != "auto" and (isinstance(s, bool) or not isinstance(s, (int, float)) or s <= 0):
            raise DataError(
                f"{type(self).__name__}.shrink_strength must be 'auto' or a number > 0; found {s!r}"
            )

    def _fit_smoothing(self) -> None:
        """Cluster offsets and shrinkage strength from the reference models' counts."""
        self.cluster_offsets_ = cluster_offsets(self.errors_, self.counts_)
        if self.shrink_strength == "auto":
            offsets = self.cluster_offsets_ if self.smoothing == "hierarchical" else None
            prior = prior_error(self.errors_, self.counts_, offsets)
            self.shrink_strength_ = fit_shrink_strength(self.errors_, self.counts_, prior)
        else:
            self.shrink_strength_ = float(self.shrink_strength)

    def profiles(self) -> Array:
        """Ψ, the smoothed per-cluster error rate of every model, shape (n_models, n_clusters)."""
        self._check_fitted()
        return smoothed_error(
            self.errors_,
            self.counts_,
            smoothing=self.smoothing,
            alpha=float(self.alpha),
            strength=float(self.shrink_strength_),
            offsets=self.cluster_offsets_,
        )

    def _n_blocks(self) -> int:
        """Number of clusterings whose responsibilities are concatenated (each sums to 1)."""
        return 1

    def predict_clusters(self, X: Array) -> Array:
        """The profile cell holding most of each prompt's assignment, shape (n_queries,).

        With several clusterings (``n_clusters="multi"``) cells are numbered across them in the
        order of ``cluster_labels()``.
        """
        return np.asarray(self._responsibilities(self._check_X(X)).argmax(axis=1))

    def cluster_labels(self) -> list[str]:
        """Names of the profile cells (``"3"``, or ``"K16:3"`` for multi-resolution routers)."""
        self._check_fitted()
        return self._cell_labels()

    def predict_scores(self, X: Array) -> Array:
        """Expected quality ``1 − Σ_c Φ_c(x)·Ψ[m, c]``, shape (n_queries, n_models).

        With several clusterings (``n_clusters="multi"``) the average over them.
        """
        X = self._check_X(X)
        return 1.0 - (self._responsibilities(X) @ self.profiles().T) / self._n_blocks()

    # ------------------------------------------------------------------ dynamic pool
    def _profile_new(self, X_val: Array, Y_val: Array, n_models: int) -> tuple[Array, Array]:
        X_val = self._check_X(X_val)
        Y_val = np.asarray(Y_val, dtype=np.float64)
        if Y_val.ndim == 1:
            Y_val = Y_val[:, None]
        if Y_val.shape != (X_val.shape[0], n_models):
            raise DataError(
                f"Y_val has shape {Y_val.shape}; expected ({X_val.shape[0]}, "
                f"{n_models}) (n_prompts, n_models)"
            )
        finite = Y_val[np.isfinite(Y_val)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise DataError(
                f"Y_val must lie in [0, 1]; found values in [{finite.min():g}, {finite.max():g}]"
            )
        return profile_counts(self._responsibilities(X_val), Y_val)

    def add_models(
        self,
        X_val: Array,
        Y_val: Array,
        model_names: Sequence[str],
        *,
        costs: Sequence[float] | Array | None = None,
    ) -> Self:
        """Profile new models from graded validation prompts; the representation is unchanged.

        Parameters
        ----------
        X_val : array, shape (n_prompts, n_dims)
            Embeddings of the validation prompts (same encoder as at fit time).
        Y_val : array, shape (n_prompts, n_new_models)
            Quality of each new model on each prompt in [0, 1]; NaN = not graded.
        model_names : sequence of str
            Names of the new models; must not already be in the router.
        costs : sequence of float, optional
            Cost per query of each new model (NaN = unknown), stored in ``model_costs_``.

        Returns
        -------
        self
        """
        self._check_fitted()
        names = [str(n) for n in model_names]
        clash = sorted(set(names) & set(self.model_names_)) or sorted(
            {n for n in names if names.count(n) > 1}
        )
        if clash:
            raise DataError(
                f"model(s) {clash} already in the router (or repeated); expected new "
                "names (remove_models first to re-profile)"
            )
        err, cnt = self._profile_new(X_val, Y_val, len(names))
        cost = np.full(len(names), np.nan) if costs is None else np.asarray(costs, float)
        if cost.shape != (len(names),):
            raise DataError(f"costs has {cost.size} entries; expected {len(names)} (one per model)")
        self.errors_ = np.vstack([self.errors_, err])
        self.counts_ = np.vstack([self.counts_, cnt])
        self.model_costs_ = np.concatenate([self.model_costs_, cost])
        self.model_names_ = [*self.model_names_, *names]
        return self

    def update_profile(self, model: str, X: Array, y: Array) -> Self:
        """Add graded outcomes ``y`` (n,) of an existing ``model`` on prompts ``X`` to its counts."""
        (idx,) = self.model_index([model])
        err, cnt = self._profile_new(X, np.asarray(y, dtype=np.float64).reshape(-1, 1), 1)
        self.errors_[idx] += err[0]
        self.counts_[idx] += cnt[0]
        return self

    def remove_models(self, names: Sequence[str]) -> Self:
        """Drop models from the profile table (immediate; unknown names raise ``DataError``)."""
        drop = set(self.model_index(list(names)).tolist())
        if len(drop) == len(self.model_names_):
            raise DataError(
                f"removing {sorted(names)} would leave no model; expected at least "
                "one model to remain"
            )
        keep = np.array([i for i in range(len(self.model_names_)) if i not in drop], dtype=int)
        self.errors_ = self.errors_[keep]
        self.counts_ = self.counts_[keep]
        self.model_costs_ = self.model_costs_[keep]
        self.model_names_ = [self.model_names_[i] for i in keep]
        return self

    def set_model_cost(self, model: str, cost: float) -> Self:
        """Record the cost per query of ``model`` (part of its profile)."""
        (idx,) = self.model_index([model])
        self.model_costs_[idx] = float(cost)
        return self

    def profile_summary(self, model: str) -> dict[str, Any]:
        """Per-cluster accuracy (smoothed and raw) and prompt counts of one model, as plain data."""
        (idx,) = self.model_index([model])
        psi = self.profiles()[idx]
        err, cnt = self.errors_[idx], self.counts_[idx]
        raw = np.where(cnt > 0, 1.0 - err / np.maximum(cnt, _EPS), np.nan)
        total = float(cnt.sum())
        return {
            "model": model,
            "n_prompts": round(total / self._n_blocks(), 3),  # each clustering counts a prompt
            "accuracy": None if total == 0 else round(1.0 - float(err.sum()) / total, 4),
            "cost": None if np.isnan(self.model_costs_[idx]) else float(self.model_costs_[idx]),
            "clusters": [
                {
                    "cluster": label,
                    "n": round(float(cnt[c]), 3),
                    "raw_accuracy": None if cnt[c] < 0.5 else round(float(raw[c]), 4),
                    "accuracy": round(1.0 - float(psi[c]), 4),
                }
                for c, label in enumerate(self._cell_labels())
            ],
        }

    def _cell_labels(self) -> list[str]:
        """Names of the profile cells (``"3"``; ``"K16:3"`` when several clusterings)."""
        return [str(c) for c in range(self.errors_.shape[1])]

    def _restore(self, learned: dict[str, Any], arrays: dict[str, Array]) -> None:
        super()._restore(learned, arrays)
        self.model_names_ = [str(m) for m in self.model_names_]
        for key in ("errors_", "counts_", "model_costs_"):
            setattr(self, key, np.asarray(getattr(self, key), dtype=np.float64))

    def _check_fitted(self) -> None:
        if not hasattr(self, "errors_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")


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
        return self

    def _check_cluster_params(self, n_rows: int) -> None:
        self._check_settings()
        name = type(self).__name__
        if self.assignment not in _ASSIGNMENTS:
            raise DataError(
                f"{name}.assignment must be one of {_ASSIGNMENTS}; found {self.assignment!r}"
            )
        ks = (
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
        random_state: int | None = 0,
    ) -> None:
        self.n_clusters = n_clusters
        self.smoothing = smoothing
        self.alpha = alpha
        self.shrink_strength = shrink_strength
        self.objective = objective
        self.l2 = l2
        self.max_iter = max_iter
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
