"""RouterDC dynamic pool: add LLMs from graded validation prompts, remove them, summaries."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers._routerdc_train import _import_torch, _RouterDCBase
from polyroute.routers._routerdc_utils import (
    soft_profiles,
    softmax,
)

Array = np.ndarray


class _PoolMixin(_RouterDCBase):
    """New LLMs without retraining (:class:`ContrastiveRouter`'s dynamic pool)."""

    def add_models(
        self,
        X_val: Array,
        Y_val: Array,
        model_names: Sequence[str],
        *,
        costs: Sequence[float] | Array | None = None,
        n_steps: int = 300,
        learning_rate: float = 0.05,
    ) -> Self:
        """Add LLMs from graded validation prompts without retraining the encoder or head.

        Each new LLM's embedding ``e`` and its own offset ``b`` are fitted so that
        ``sigmoid(a·cos(h(x), e)/τ + b)`` predicts its validation scores (soft cross-entropy,
        Adam, ``n_steps`` steps). The slope ``a`` stays the one fitted for the trained LLMs: a
        free slope memorised small validation sets (a median slope of 72 against 0.85 at 100
        prompts, docs/results/routerdc_vs_uniroute.md). Its cluster profile is its mean
        validation score per cluster (shrunk to its overall mean where a cluster has few
        prompts). Existing LLMs are untouched.

        Parameters
        ----------
        X_val : array, shape (n_val, n_dims)
            Validation queries (prompt strings for the fine-tuned variant).
        Y_val : array, shape (n_val, n_new)
            Scores of the new LLMs on those queries (NaN = unknown).
        model_names : sequence of str
            Names of the new LLMs; none may already be known.
        costs : sequence of float, optional
            Cost per query of each new LLM (NaN = unknown), stored in ``model_costs_``.
        n_steps, learning_rate : int, float
            Adam steps and step size of each new embedding's fit.

        Returns
        -------
        self
        """
        self._check_fitted()
        Xq = self._check_queries(X_val)
        Yv = np.asarray(Y_val, dtype=np.float64)
        names = list(model_names)
        if Yv.ndim != 2 or Yv.shape != (len(Xq), len(names)):
            raise DataError(f"Y_val has shape {Yv.shape}; expected ({len(Xq)}, {len(names)})")
        known = [n for n in names if n in self.model_names_]
        if known or len(set(names)) != len(names):
            raise DataError(
                f"add_models expects new, distinct model names; found already known "
                f"or repeated: {known or names}"
            )
        if (~np.isnan(Yv)).sum(axis=0).min(initial=1) == 0:
            raise DataError("every new model needs at least one non-NaN validation score")
        cost = np.full(len(names), np.nan) if costs is None else np.asarray(costs, np.float64)
        if cost.shape != (len(names),):
            raise DataError(f"costs has {cost.size} entries; expected {len(names)} (one per model)")
        H = self._embed_queries(Xq)
        fitted = [
            self._fit_new_embedding(
                H, Yv[:, j], n_steps=n_steps, learning_rate=learning_rate, seed=j
            )
            for j in range(len(names))
        ]
        new_emb = np.stack([e for e, _ in fitted])
        self.calibration_ = np.vstack([self.calibration_, np.stack([c for _, c in fitted])])
        assign = softmax(H @ self.cluster_centroids_.T / self.cluster_temperature_, axis=1)
        profiles = soft_profiles(assign, Yv)
        self.llm_embeddings_ = np.vstack([self.llm_embeddings_, new_emb]).astype(np.float32)
        self.cluster_quality_ = np.hstack([self.cluster_quality_, profiles])
        self.cluster_counts_ = np.hstack([self._counts(), assign.T @ (~np.isnan(Yv))])
        self.model_costs_ = np.concatenate([self._costs(), cost])
        self.model_names_ = list(self.model_names_) + names
        self._extend_prior(Yv)
        return self

    def _fit_new_embedding(
        self, H: Array, y: Array, *, n_steps: int, learning_rate: float, seed: int
    ) -> tuple[Array, Array]:
        """Embedding and ``[a, b]`` calibration (``a`` shared with the trained LLMs) of one new
        LLM from its validation scores."""
        torch = _import_torch()
        gen = torch.Generator().manual_seed(int(self.random_state or 0) * 1000 + seed)
        mask = ~np.isnan(y)
        h = torch.from_numpy(H[mask].astype(np.float32))
        target = torch.from_numpy(y[mask].astype(np.float32))
        # start from the mean direction of the prompts it solves (a good, deterministic init)
        weights = torch.from_numpy((y[mask] - y[mask].mean()).astype(np.float32))
        init = (weights[:, None] * h).sum(0) + 0.01 * torch.randn(h.shape[1], generator=gen)
        e = torch.nn.Parameter(init.clone())
        base = getattr(self, "base_calibration_", None)  # absent in artifacts saved before it
        a, b0 = (float(v) for v in (self.calibration_[0] if base is None else base))
        b = torch.nn.Parameter(torch.tensor(b0))
        opt = torch.optim.Adam([e, b], lr=learning_rate)
        for _ in range(n_steps):
            cos = h @ torch.nn.functional.normalize(e, dim=0)
            logit = a * cos / self.temperature + b
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logit, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
        calib = np.array([a, float(b.detach())], dtype=np.float64)
        return e.detach().numpy().astype(np.float32), calib

    def remove_models(self, names: Sequence[str]) -> Self:
        """Drop LLMs from the pool (their embeddings and profiles)."""
        drop = set(self.model_index(names).tolist())
        keep = np.array([i for i in range(len(self.model_names_)) if i not in drop], dtype=int)
        if keep.size == 0:
            raise DataError("remove_models would remove every model; expected at least one left")
        self.llm_embeddings_ = self.llm_embeddings_[keep]
        self.calibration_ = self.calibration_[keep]
        self.cluster_quality_ = self.cluster_quality_[:, keep]
        self.cluster_counts_ = self._counts()[:, keep]
        self.model_costs_ = self._costs()[keep]
        self.model_names_ = [self.model_names_[i] for i in keep]
        self._keep_prior(keep)
        return self

    def profile_summary(self, model: str) -> dict[str, Any]:
        """One LLM's estimated quality per query cluster, prompt counts and cost, as plain data."""
        (idx,) = self.model_index([model])
        counts, quality = self._counts()[:, idx], self.cluster_quality_[:, idx]
        total = float(counts.sum())
        cost = float(self._costs()[idx])
        return {
            "model": model,
            "n_prompts": round(total, 3),
            "accuracy": None if total == 0 else round(float(counts @ quality) / total, 4),
            "cost": None if math.isnan(cost) else cost,
            "clusters": [
                {
                    "cluster": str(c),
                    "n": round(float(counts[c]), 3),
                    "accuracy": round(float(quality[c]), 4),
                }
                for c in range(len(quality))
            ],
        }

    def _counts(self) -> Array:
        """Graded prompts per (cluster, LLM); zeros for artifacts saved before they were kept."""
        counts = getattr(self, "cluster_counts_", None)
        return np.zeros_like(self.cluster_quality_) if counts is None else counts

    def _costs(self) -> Array:
        """Cost per query of each LLM (``model_costs_``; NaN where unknown)."""
        costs = getattr(self, "model_costs_", None)
        if costs is None:
            return np.full(len(self.model_names_), np.nan)
        return np.asarray(costs, dtype=np.float64)
