"""RouterDC: query-based router by dual contrastive learning (Chen et al., NeurIPS 2024,
arXiv 2409.19886).

A query encoder maps a prompt to ``h(x)``; every candidate LLM ``m`` has a learnable embedding
``e_m``; the routing distribution is ``p(m|x) = softmax_m(cos(h(x), e_m) / τ)``. Training uses

* the **sample–LLM contrastive loss**: for each query the ``n_positives`` best-scoring LLMs are
  positives and the ``n_negatives`` worst are negatives; a negative that still scores above
  ``negative_threshold`` is masked and a positive that scores 0 is skipped;
* the **sample–sample contrastive loss** (weight ``sample_loss_weight``): queries are clustered
  (K-means on the training embeddings as in the paper, the ``tasks`` given to ``fit`` — the
  default when ``fit`` gets them — or explicit ``cluster_ids``);
  each query is pulled towards one same-cluster query and pushed from ``n_sample_negatives``
  queries of other clusters.

Two encoder modes:

* :class:`ContrastiveRouter` (registry ``routerdc``): a *frozen* sentence encoder (the embeddings
  ``X`` the caller passes, e.g. all-MiniLM-L6-v2) followed by a trainable projection head. Inference
  is pure numpy: torch is needed only to train.
* :class:`FinetunedContrastiveRouter` (registry ``routerdc-finetune``): fine-tunes all-MiniLM-L6-v2
  itself (``input_kind = "text"``: ``X`` is an array of prompt strings).

Deviations from the paper, all documented parameters:

* The sample–sample pairs are drawn *inside the batch* (the paper samples them from the whole
  training set); this keeps fine-tuning on CPU affordable (no extra encoder passes).
* Ties in the LLM ranking (common with 0/1 scores) are broken at random, not by column order.
  ``fit(..., soft_scores=...)`` ranks the LLMs by a richer signal (the paper's raw scores: the
  probability of the correct option) while ``Y`` — the quality being estimated — drives
  checkpoint selection, calibration and cluster profiles.
* Checkpoints are selected on a held-out slice of the *training* data (``holdout_fraction``), by
  the mean ``Y`` of the chosen LLM, every ``eval_every`` steps.
* ``predict_scores`` returns a **calibrated quality**, not raw similarities: one logistic map
  ``sigmoid(a * cos(h, e_m) / τ + b)`` shared by all LLMs, fitted on the training scores. It is
  monotone in the similarity, so at ``cost_weight = 0`` the choice is exactly RouterDC's
  ``argmax_m cos(h(x), e_m)``; with costs the base rule ``argmax score − λ·cost`` then trades a
  probability of success against cost, on the same scale as every other router.
* Optional **cluster prior** (``prior_weight`` > 0, off in the paper): the routing score becomes
  ``(1 − w)·quality + w·Σ_c P(c|x)·Q̄[c, m]``, where ``Q̄`` is each LLM's mean training score in
  query cluster ``c`` and ``P(c|x)`` a softmax over cosine similarities to the cluster centroids in
  the learned space. It adds task recognition, which is most of what this benchmark rewards.
* A new LLM is added without retraining (:meth:`ContrastiveRouter.add_models`): only its
  embedding (and its own 2-parameter calibration) is fitted, by maximising the likelihood of its
  graded validation prompts; its cluster profile comes from the same prompts.

Missing scores (NaN) are masked: such an LLM is neither a positive nor a negative for that query
and is ignored by the calibration and the cluster profiles; a query with no score at all is
dropped with a :class:`RouterDCWarning`. A ``batch_size`` larger than the number of training
queries is shrunk to that number with a warning.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from scipy import special

from polyroute.exceptions import DataError, MissingDependencyError, PolyrouteWarning
from polyroute.routers._base import BaseRouter
from polyroute.routers._routerdc_utils import (
    BatchSampler,
    cluster_profiles,
    fit_assignment_temperature,
    fit_calibration,
    gelu,
    holdout_split,
    kmeans_clusters,
    llm_pair_masks,
    normalize,
    progress_bar,
    sample_pairs,
    soft_profiles,
    softmax,
)

Array = np.ndarray
_CLUSTER_SOURCES = ("auto", "kmeans", "tasks")


class RouterDCWarning(PolyrouteWarning):
    """Training data oddity that RouterDC handled (dropped rows, shrunk batch)."""


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is installed in dev environments
        raise MissingDependencyError("torch", "torch") from exc
    return torch


# --------------------------------------------------------------------------- the router
class ContrastiveRouter(BaseRouter):
    """RouterDC (dual contrastive learning) over frozen query embeddings with a trained head.

    Parameters
    ----------
    hidden_dim : int
        Width of the head's hidden layer (``0``: a single linear projection).
    embed_dim : int
        Width of the routing space shared by queries and LLM embeddings.
    temperature : float
        τ of ``softmax(cos / τ)``, used by both losses.
    n_positives, n_negatives : int
        K+ and K− of the sample–LLM loss (paper: 3 and 3).
    negative_threshold : float
        A would-be negative LLM scoring above this is masked (paper: 0.5).
    n_clusters : int
        Number of K-means query clusters (paper: 5); ignored with ``cluster_source="tasks"``.
    cluster_source : {"auto", "kmeans", "tasks"}
        Where the query clusters come from: K-means on ``X`` (the paper), the ``tasks`` given to
        ``fit``, or "auto": the tasks when ``fit`` gets at least 2 distinct ones, else K-means.
        ``fit(..., cluster_ids=...)`` overrides all.
    sample_loss_weight : float
        Weight of the sample–sample loss (0 = the paper's ablation without it).
    n_sample_negatives : int
        Other-cluster negatives per query in the sample–sample loss (paper: 3).
    learning_rate, weight_decay : float
        AdamW settings of the head and the LLM embeddings.
    n_steps, batch_size : int
        Optimisation steps and queries per step.
    eval_every : int
        Evaluate on the held-out slice of the training data every this many steps; the best
        checkpoint (mean score of the chosen LLM) is kept.
    holdout_fraction : float
        Share of the training queries held out for checkpoint selection (0 = keep the last).
    prior_weight : float
        Weight ``w`` of the cluster prior in the routing score (0 = the paper's router).
    random_state : int or None, default 0
        Seed of initialisation, batches, tie-breaking and clustering (None = unseeded).
    show_progress : bool or None
        tqdm bar with the running loss (None: only on a terminal).

    Attributes
    ----------
    model_names_ : list of str
    llm_embeddings_ : array, shape (n_models, embed_dim)
    head_weights_ : list of arrays (learned as ``head_w0_``, ``head_b0_``, ...)
    calibration_ : array, shape (n_models, 2)
        ``[a, b]`` of each LLM's logistic map (shared by the trained LLMs).
    base_calibration_ : array, shape (2,)
        The trained LLMs' shared ``[a, b]``; added LLMs keep its slope ``a``.
    cluster_centroids_, cluster_quality_ : arrays (n_clusters, embed_dim), (n_clusters, n_models)
    cluster_counts_ : array, shape (n_clusters, n_models)
        Graded prompts behind each cluster profile (training or validation prompts).
    model_costs_ : array, shape (n_models,)
        Cost per query when known (set by ``polyroute fit`` or ``add_models(costs=...)``).
    history_ : dict of lists (step, loss, holdout quality)

    Example
    -------
    >>> router = ContrastiveRouter(n_steps=200, random_state=0)  # doctest: +SKIP
    >>> router.fit(X_train, Y_train, model_names=names).route(X_test)  # doctest: +SKIP
    """

    supports_new_models: ClassVar[bool] = True
    input_kind: ClassVar[str] = "embedding"
    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {
        "hidden_dim": (int, 0, None),
        "embed_dim": (int, 1, None),
        "temperature": (float, 1e-4, None),
        "n_positives": (int, 1, None),
        "n_negatives": (int, 1, None),
        "negative_threshold": (float, 0.0, 1.0),
        "n_clusters": (int, 1, None),
        "sample_loss_weight": (float, 0.0, None),
        "n_sample_negatives": (int, 1, None),
        "learning_rate": (float, 0.0, None),
        "weight_decay": (float, 0.0, None),
        "n_steps": (int, 0, None),
        "batch_size": (int, 2, None),
        "eval_every": (int, 1, None),
        "holdout_fraction": (float, 0.0, 0.9),
        "prior_weight": (float, 0.0, 1.0),
    }

    def __init__(
        self,
        *,
        hidden_dim: int = 256,
        embed_dim: int = 128,
        temperature: float = 0.2,
        n_positives: int = 3,
        n_negatives: int = 3,
        negative_threshold: float = 0.5,
        n_clusters: int = 5,
        cluster_source: str = "auto",
        sample_loss_weight: float = 1.0,
        n_sample_negatives: int = 3,
        learning_rate: float = 1e-3,
        weight_decay: float = 0.01,
        n_steps: int = 1000,
        batch_size: int = 64,
        eval_every: int = 50,
        holdout_fraction: float = 0.1,
        prior_weight: float = 0.0,
        random_state: int | None = 0,
        show_progress: bool | None = None,
    ) -> None:
        self.hidden_dim = hidden_dim
        self.embed_dim = embed_dim
        self.temperature = temperature
        self.n_positives = n_positives
        self.n_negatives = n_negatives
        self.negative_threshold = negative_threshold
        self.n_clusters = n_clusters
        self.cluster_source = cluster_source
        self.sample_loss_weight = sample_loss_weight
        self.n_sample_negatives = n_sample_negatives
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.eval_every = eval_every
        self.holdout_fraction = holdout_fraction
        self.prior_weight = prior_weight
        self.random_state = random_state
        self.show_progress = show_progress

    @classmethod
    def _check_params(cls) -> dict[str, Any]:
        """Small settings for the conformance check (``testing.check_router``)."""
        return {"n_steps": 30, "eval_every": 10, "batch_size": 32, "show_progress": False}

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X: Array,
        Y: Array,
        *,
        model_names: Sequence[str],
        tasks: Sequence[str] | None = None,
        cluster_ids: Sequence[int] | None = None,
        soft_scores: Array | None = None,
    ) -> Self:
        """Train the head and the LLM embeddings on embeddings ``X`` and scores ``Y``.

        Parameters
        ----------
        X : array, shape (n_queries, n_dims)
            Query embeddings (prompt strings for :class:`FinetunedContrastiveRouter`).
        Y : array, shape (n_queries, n_models)
            Quality in [0, 1] (NaN = unknown, masked). Soft scores (e.g. the probability of the
            correct option) reproduce the paper's training signal.
        model_names : sequence of str, length n_models
        tasks : sequence of str, optional
            Task of each query; used as the clusters with ``cluster_source="tasks"``.
        cluster_ids : sequence of int, optional
            Explicit query clusters (e.g. the paper's ``cluster_id``); override ``cluster_source``.
        soft_scores : array, shape (n_queries, n_models), optional
            A richer signal used only to *rank* the LLMs in the sample–LLM loss (e.g. the
            probability of the correct option, as the paper trains); ``Y`` stays the quality
            that checkpoint selection, calibration and cluster profiles estimate.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Bad shapes, parameters, scores outside [0, 1], or missing ``tasks``/``cluster_ids``.
        """
        X, Y = self._validate_training_data(X, Y, model_names)
        R = Y if soft_scores is None else self._validate_soft(soft_scores, Y)
        rows = _scored_rows(Y)
        rng = np.random.default_rng(self.random_state)
        torch = _import_torch()
        torch.manual_seed(int(rng.integers(2**31 - 1)))
        net = self._build_network(torch, n_models=Y.shape[1], X=X)
        clusters = self._training_clusters(torch, net, X, tasks, cluster_ids, rng)
        # Train in model-name order, so permuting Y's columns permutes the result exactly.
        order = np.argsort(np.asarray(self.model_names_, dtype=str), kind="stable")
        self._train(torch, net, X, Y[:, order], R[:, order], clusters, rows, rng)
        self._export_network(net)
        self.llm_embeddings_ = self.llm_embeddings_[np.argsort(order)]
        H = self._training_embeddings(torch, net, X, rows)
        self._fit_scoring(H, Y[rows], clusters[rows])
        self._release_training_state()
        return self

    def _release_training_state(self) -> None:
        """Free what only training needed (nothing for the frozen variant)."""

    def _validate_training_data(
        self, X: Array, Y: Array, model_names: Sequence[str]
    ) -> tuple[Array, Array]:
        if self.cluster_source not in _CLUSTER_SOURCES:
            raise DataError(
                f"cluster_source must be one of {_CLUSTER_SOURCES}; found {self.cluster_source!r}"
            )
        X, Y = self._validate_fit(X, Y, model_names)
        finite = Y[np.isfinite(Y)]
        if np.isinf(Y).any() or (finite.size and (finite.min() < 0 or finite.max() > 1)):
            bad = Y[~np.isnan(Y) & ((Y < 0) | (Y > 1) | np.isinf(Y))][0]
            raise DataError(f"Y must hold scores in [0, 1] (NaN = unknown); found {bad!r}")
        if not np.isfinite(X).all():
            raise DataError("X must be finite; found NaN or infinite embeddings")
        ungraded = [str(model_names[j]) for j in np.flatnonzero(np.isnan(Y).all(axis=0))]
        if ungraded and len(ungraded) < Y.shape[1]:  # all ungraded: the empty-rows error says so
            raise DataError(
                f"model(s) {ungraded} have no score on any training query; expected "
                "at least one each (drop the column, or add the model later with "
                "add_models)"
            )
        self.n_features_in_ = int(X.shape[1])
        return X, Y

    @staticmethod
    def _validate_soft(soft: Array, Y: Array) -> Array:
        S = np.asarray(soft, dtype=np.float64)
        if S.shape != Y.shape:
            raise DataError(f"soft_scores has shape {S.shape}; expected {Y.shape} (like Y)")
        finite = S[~np.isnan(S)]
        if np.isinf(S).any() or (finite.size and (finite.min() < 0 or finite.max() > 1)):
            raise DataError(
                "soft_scores must lie in [0, 1] (NaN = unknown); found values "
                f"in [{np.nanmin(S):g}, {np.nanmax(S):g}]"
            )
        return np.where(np.isnan(Y), np.nan, S)

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
        return self._head(X[rows])

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
        return self.batch_size

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

    # ------------------------------------------------------------------ scoring
    def _fit_scoring(self, H: Array, Y: Array, clusters: Array) -> None:
        logits = H @ normalize(self.llm_embeddings_).T / self.temperature
        self.base_calibration_ = np.asarray(fit_calibration(logits, Y), dtype=np.float64)
        self.calibration_ = np.tile(self.base_calibration_, (Y.shape[1], 1))
        n_c = int(clusters.max()) + 1
        cent = np.stack(
            [
                H[clusters == c].mean(axis=0) if (clusters == c).any() else np.zeros(H.shape[1])
                for c in range(n_c)
            ]
        )
        self.cluster_centroids_ = normalize(cent).astype(np.float32)
        sims = H @ self.cluster_centroids_.T
        self.cluster_temperature_ = fit_assignment_temperature(sims, clusters)
        self.cluster_quality_ = cluster_profiles(Y, clusters, n_c)
        graded = (~np.isnan(Y)).astype(np.float64)
        self.cluster_counts_ = np.stack([graded[clusters == c].sum(axis=0) for c in range(n_c)])

    def _head(self, X: Array) -> Array:
        """Apply the numpy copy of the head; returns L2-normalised (n, embed_dim)."""
        h = X.astype(np.float32)
        n_layers = int(self.n_head_layers_)
        for i in range(n_layers):
            h = h @ getattr(self, f"head_w{i}_").T + getattr(self, f"head_b{i}_")
            if i < n_layers - 1:
                h = gelu(h)
        return normalize(h)

    def _embed_queries(self, X: Array) -> Array:
        return self._head(X)

    def _check_queries(self, X: Array) -> Array:
        return self._check_X(X)

    def similarity_logits(self, X: Array) -> Array:
        """``cos(h(x), e_m) / τ`` per (query, LLM): the logits of RouterDC's ``p(m|x)``."""
        H = self._embed_queries(self._check_queries(X))
        return H @ normalize(self.llm_embeddings_).T / self.temperature

    def predict_proba(self, X: Array) -> Array:
        """RouterDC's routing distribution ``p(m|x)``, shape (n_queries, n_models)."""
        return softmax(self.similarity_logits(X), axis=1)

    def cluster_proba(self, X: Array) -> Array:
        """Soft assignment ``P(c|x)`` of each query to the training clusters."""
        H = self._embed_queries(self._check_queries(X))
        return softmax(H @ self.cluster_centroids_.T / self.cluster_temperature_, axis=1)

    def predict_scores(self, X: Array) -> Array:
        """Calibrated probability of success per (query, LLM), shape (n_queries, n_models).

        ``(1 − w)·sigmoid(a·logit + b) + w·P(c|x)·Q̄`` with ``w = prior_weight`` (see the
        module docstring). With ``w = 0`` the argmax equals RouterDC's argmax similarity.
        """
        H = self._embed_queries(self._check_queries(X))
        logits = H @ normalize(self.llm_embeddings_).T / self.temperature
        a, b = self.calibration_[:, 0], self.calibration_[:, 1]
        quality = special.expit(a * logits + b)
        w = float(self.prior_weight)
        if w > 0:
            assign = softmax(H @ self.cluster_centroids_.T / self.cluster_temperature_, axis=1)
            quality = (1.0 - w) * quality + w * (assign @ self.cluster_quality_)
        return quality

    # ------------------------------------------------------------------ new LLMs
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
