"""The UniRoute profile table shared by the cluster routers: counts, smoothing, add/remove/update
models, summaries. See :mod:`polyroute.routers._uniroute` (arXiv 2502.08773)."""

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError, NotFittedError
from polyroute.routers._base import Array, BaseRouter
from polyroute.routers._uniroute_profiles import (
    _EPS,
    _SMOOTHINGS,
    cluster_offsets,
    fit_shrink_strength,
    prior_error,
    profile_counts,
    smoothed_error,
)


# ---------------------------------------------------------------------------- base profile logic
class _ProfileRouter(BaseRouter):
    """Shared profile table (counts, smoothing, add/remove/update models, summaries)."""

    supports_new_models: ClassVar[bool] = True
    errors_: Array
    counts_: Array
    model_costs_: Array

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

    def _predict_quality(self, X: Array) -> Array:
        """Expected quality ``1 − Σ_c Φ_c(x)·Ψ[m, c]``, shape (n_queries, n_models).

        With several clusterings (``n_clusters="multi"``) the average over them.
        """
        X = self._check_X(X)
        return np.asarray(1.0 - (self._responsibilities(X) @ self.profiles().T) / self._n_blocks())

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
        self._extend_prior(np.asarray(Y_val, dtype=np.float64).reshape(len(Y_val), len(names)))
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
        self._keep_prior(keep)
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
