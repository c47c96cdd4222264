"""RouterDC training: the torch network, the two contrastive losses and the training loop.

See :mod:`polyroute.routers._routerdc` for the method (arXiv 2409.19886). torch is imported
lazily, only when a router is trained.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from polyroute.exceptions import DataError, MissingDependencyError, PolyrouteWarning
from polyroute.routers._base import BaseRouter
from polyroute.routers._routerdc_utils import (
    BatchSampler,
    holdout_split,
    kmeans_clusters,
    llm_pair_masks,
    progress_bar,
    sample_pairs,
)

Array = np.ndarray


class RouterDCWarning(PolyrouteWarning):
    """Training data oddity that RouterDC handled (dropped rows, shrunk batch)."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed in dev environments
        raise MissingDependencyError("torch", "torch") from exc
    return torch


class _RouterDCBase(BaseRouter):
    """What the training loop and the dynamic pool read from :class:`ContrastiveRouter`.

    Declarations only (for the type checker): the settings are set by ``ContrastiveRouter.__init__``,
    the learned arrays by ``fit``, and the query methods are ``ContrastiveRouter``'s.
    """

    hidden_dim: int
    embed_dim: int
    temperature: float
    n_positives: int
    n_negatives: int
    negative_threshold: float
    n_clusters: int
    cluster_source: str
    sample_loss_weight: float
    n_sample_negatives: int
    learning_rate: float
    weight_decay: float
    n_steps: int
    batch_size: int
    eval_every: int
    holdout_fraction: float
    random_state: int | None
    show_progress: bool | None
    model_names_: list[str]
    llm_embeddings_: Array
    calibration_: Array
    cluster_centroids_: Array
    cluster_temperature_: float
    cluster_quality_: Array
    cluster_counts_: Array
    model_costs_: Array

    def _head(self, X: Array) -> Array:
        raise NotImplementedError

    def _embed_queries(self, X: Array) -> Array:
        raise NotImplementedError

    def _check_queries(self, X: Array) -> Array:
        raise NotImplementedError


class _TrainingMixin(_RouterDCBase):
    """The training loop of :class:`ContrastiveRouter` (clusters, network, steps, checkpoints)."""

    def _training_clusters(
        self,
        torch: Any,
        net: Any,
        X: Array,
        tasks: Sequence[str] | None,
        cluster_ids: Sequence[int] | None,
        rng: Any,
    ) -> Array:
        n = len(X)
        if cluster_ids is not None:
            ids = np.asarray(cluster_ids)
            if ids.shape != (n,):
                raise DataError(f"cluster_ids has shape {ids.shape}; expected ({n},)")
            _, inverse = np.unique(ids, return_inverse=True)
            return inverse.astype(np.int64)
        source = self.cluster_source
        if source == "auto":
            source = "tasks" if tasks is not None and len(set(map(str, tasks))) >= 2 else "kmeans"
        if source == "tasks":
            if tasks is None:
                raise DataError('cluster_source="tasks" needs tasks=...; found tasks=None')
            names = np.asarray(tasks, dtype=object)
            if names.shape != (n,):
                raise DataError(f"tasks has shape {names.shape}; expected ({n},)")
            _, inverse = np.unique(names.astype(str), return_inverse=True)
            return inverse.astype(np.int64)
        return kmeans_clusters(
            self._cluster_features(torch, net, X), self.n_clusters, int(rng.integers(2**31 - 1))
        ).astype(np.int64)

    def _cluster_features(self, torch: Any, net: Any, X: Array) -> Array:
        """What K-means clusters: the frozen query embeddings."""
        return X

    def _training_embeddings(self, torch: Any, net: Any, X: Array, rows: Array) -> Array:
        """Routing-space embeddings of the training rows after training (numpy head)."""
        return np.asarray(self._head(X[rows]))

    # ------------------------------------------------------------------ network
    def _build_network(self, torch: Any, *, n_models: int, X: Array) -> Any:
        return _ContrastiveNet.create(
            torch,
            encoder=None,
            in_dim=X.shape[1],
            hidden_dim=self.hidden_dim,
            embed_dim=self.embed_dim,
            n_models=n_models,
        )

    def _encode_batch(self, torch: Any, net: Any, X: Array, idx: Array) -> Any:
        return net.head(torch.from_numpy(np.ascontiguousarray(X[idx])))

    def _optimizer(self, torch: Any, net: Any) -> Any:
        return torch.optim.AdamW(
            net.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )

    def _train(
        self,
        torch: Any,
        net: Any,
        X: Array,
        Y: Array,
        R: Array,
        clusters: Array,
        rows: Array,
        rng: Any,
    ) -> None:
        train_pos, hold_pos = holdout_split(len(rows), clusters[rows], self.holdout_fraction, rng)
        train_rows, hold_rows = rows[train_pos], rows[hold_pos]
        batch = self._effective_batch_size(len(train_rows), len(hold_rows))
        opt = self._optimizer(torch, net)
        hist: dict[str, list[float]] = {
            "step": [],
            "loss": [],
            "llm_loss": [],
            "sample_loss": [],
            "holdout_quality": [],
        }
        best = (-np.inf, 0, copy.deepcopy(net.state_dict()))
        order = BatchSampler(train_rows, batch, rng)
        running = float("nan")
        with progress_bar(self.n_steps, self._progress_enabled(), type(self).__name__) as bar:
            for step in range(1, self.n_steps + 1):
                net.train()
                idx = order.next()
                total, llm_loss, ss_loss = self._step_loss(torch, net, X, R, clusters, idx, rng)
                opt.zero_grad()
                total.backward()
                opt.step()
                value = float(total.detach())
                running = value if math.isnan(running) else 0.9 * running + 0.1 * value
                bar.update(1)
                bar.set_postfix(loss=f"{running:.4f}")
                if step % self.eval_every == 0 or step == self.n_steps:
                    quality = self._holdout_quality(torch, net, X, Y, hold_rows)
                    for key, val in (
                        ("step", step),
                        ("loss", running),
                        ("llm_loss", llm_loss),
                        ("sample_loss", ss_loss),
                        ("holdout_quality", quality),
                    ):
                        hist[key].append(float(val))
                    if hold_rows.size == 0 or quality > best[0]:
                        best = (quality, step, copy.deepcopy(net.state_dict()))
        if self.n_steps > 0:
            net.load_state_dict(best[2])
        self.history_ = hist
        self.best_step_ = int(best[1])

    def _effective_batch_size(self, n_train: int, n_held: int) -> int:
        if self.batch_size > n_train:
            warnings.warn(
                RouterDCWarning(
                    f"batch_size={self.batch_size} exceeds the {n_train} training queries "
                    f"({n_held} more held out for checkpoint selection); using batches of {n_train}"
                ),
                stacklevel=4,
            )
            return max(n_train, 1)
        return int(self.batch_size)

    def _step_loss(
        self, torch: Any, net: Any, X: Array, Y: Array, clusters: Array, idx: Array, rng: Any
    ) -> tuple[Any, float, float]:
        F = torch.nn.functional
        h = F.normalize(self._encode_batch(torch, net, X, idx), dim=-1)
        e = F.normalize(net.llm_embeddings, dim=-1)
        logits = h @ e.T / self.temperature
        pos, neg = llm_pair_masks(
            Y[idx],
            n_positives=self.n_positives,
            n_negatives=self.n_negatives,
            negative_threshold=self.negative_threshold,
            rng=rng,
        )
        llm_loss = _sample_llm_loss(torch, logits, torch.from_numpy(pos), torch.from_numpy(neg))
        total = llm_loss
        ss_value = 0.0
        if self.sample_loss_weight > 0:
            ss = _sample_sample_loss(
                torch, h, clusters[idx], self.n_sample_negatives, self.temperature, rng
            )
            total = total + self.sample_loss_weight * ss
            ss_value = float(ss.detach())
        return total, float(llm_loss.detach()), ss_value

    def _holdout_quality(self, torch: Any, net: Any, X: Array, Y: Array, rows: Array) -> float:
        if rows.size == 0:
            return float("nan")
        net.eval()
        with torch.no_grad():
            parts = [
                self._encode_batch(torch, net, X, rows[i : i + 256])
                for i in range(0, len(rows), 256)
            ]
            h = torch.nn.functional.normalize(torch.cat(parts), dim=-1)
            e = torch.nn.functional.normalize(net.llm_embeddings, dim=-1)
            choice = (h @ e.T).argmax(dim=1).numpy()
        return float(np.nanmean(np.nan_to_num(Y[rows, choice], nan=0.0)))

    def _progress_enabled(self) -> bool | None:
        return None if self.show_progress is None else bool(self.show_progress)

    def _export_network(self, net: Any) -> None:
        """Copy the trained head and LLM embeddings into numpy learned attributes."""
        for i, (w, b) in enumerate(net.linear_layers()):
            setattr(self, f"head_w{i}_", w.detach().numpy().astype(np.float32).copy())
            setattr(self, f"head_b{i}_", b.detach().numpy().astype(np.float32).copy())
        self.n_head_layers_ = len(net.linear_layers())
        self.llm_embeddings_ = net.llm_embeddings.detach().numpy().astype(np.float32).copy()


def _scored_rows(Y: Array) -> Array:
    """Rows with at least one score; warns about (and drops) the others."""
    keep = ~np.isnan(Y).all(axis=1)
    if not keep.any():
        raise DataError("every training query has only NaN scores; expected some scores")
    if not keep.all():
        warnings.warn(
            RouterDCWarning(
                f"dropped {int((~keep).sum())} of {len(Y)} training queries with no score at all"
            ),
            stacklevel=3,
        )
    return np.flatnonzero(keep)


# --------------------------------------------------------------------------- torch pieces
def _sample_llm_loss(torch: Any, logits: Any, pos: Any, neg: Any) -> Any:
    """Mean over (query, positive) of ``-log(e^{s_p} / (e^{s_p} + Σ_neg e^{s_n}))``."""
    neg_lse = torch.logsumexp(logits.masked_fill(~neg, float("-inf")), dim=1, keepdim=True)
    per_pos = torch.logaddexp(logits, neg_lse) - logits  # 0 where a query has no negative
    n_pos = pos.sum()
    if int(n_pos) == 0:
        return logits.sum() * 0.0
    return per_pos.masked_fill(~pos, 0.0).sum() / n_pos


def _sample_sample_loss(
    torch: Any, h: Any, clusters: Array, n_negatives: int, temperature: float, rng: Any
) -> Any:
    pos, neg, neg_mask = sample_pairs(clusters, n_negatives=n_negatives, rng=rng)
    rows = np.flatnonzero((pos >= 0) & neg_mask.any(axis=1))
    if rows.size == 0:
        return h.sum() * 0.0
    r = torch.from_numpy(rows)
    anchor = h[r]
    s_pos = (anchor * h[torch.from_numpy(pos[rows])]).sum(-1) / temperature
    s_neg = torch.einsum("bd,bkd->bk", anchor, h[torch.from_numpy(neg[rows])]) / temperature
    s_neg = s_neg.masked_fill(~torch.from_numpy(neg_mask[rows]), float("-inf"))
    both = torch.cat([s_pos[:, None], s_neg], dim=1)
    return (torch.logsumexp(both, dim=1) - s_pos).mean()


class _ContrastiveNet:
    """Factory for the torch module (built lazily so torch is imported only when training)."""

    @staticmethod
    def create(
        torch: Any, *, encoder: Any, in_dim: int, hidden_dim: int, embed_dim: int, n_models: int
    ) -> Any:
        nn = torch.nn

        class Net(nn.Module):  # type: ignore[misc,name-defined]
            def __init__(self) -> None:
                super().__init__()
                self.encoder = encoder
                if hidden_dim > 0:
                    self.head = nn.Sequential(
                        nn.Linear(in_dim, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, embed_dim)
                    )
                else:
                    self.head = nn.Sequential(nn.Linear(in_dim, embed_dim))
                # paper: LLM embeddings initialised N(0, 0.78)
                self.llm_embeddings = nn.Parameter(torch.randn(n_models, embed_dim) * 0.78)

            def linear_layers(self) -> list[tuple[Any, Any]]:
                return [(m.weight, m.bias) for m in self.head if isinstance(m, nn.Linear)]

        return Net()
