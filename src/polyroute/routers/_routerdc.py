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

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from scipy import special

from polyroute.exceptions import DataError
from polyroute.routers._routerdc_pool import _PoolMixin
from polyroute.routers._routerdc_train import (
    _import_torch,
    _scored_rows,
    _TrainingMixin,
)
from polyroute.routers._routerdc_utils import (
    cluster_profiles,
    fit_assignment_temperature,
    fit_calibration,
    gelu,
    normalize,
    softmax,
)
from polyroute.routers._support import DEFAULT_SAFETY

Array = np.ndarray
_CLUSTER_SOURCES = ("auto", "kmeans", "tasks")


# --------------------------------------------------------------------------- the router
class ContrastiveRouter(_PoolMixin, _TrainingMixin):
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
    safety : float or None
        The safe rule (:meth:`BaseRouter.predict_scores`): share of prompts of unseen tasks that
        fall back fully to each LLM's mean training quality; None = off (the paper).
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
        safety: float | None = DEFAULT_SAFETY,
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
        self.safety = safety
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
        self._fit_support(X[rows], Y[rows], None if tasks is None else np.asarray(tasks)[rows])
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
        ungraded = [str(model_names[int(j)]) for j in np.flatnonzero(np.isnan(Y).all(axis=0))]
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
        return np.asarray(H @ normalize(self.llm_embeddings_).T / self.temperature)

    def predict_proba(self, X: Array) -> Array:
        """RouterDC's routing distribution ``p(m|x)``, shape (n_queries, n_models)."""
        return softmax(self.similarity_logits(X), axis=1)

    def cluster_proba(self, X: Array) -> Array:
        """Soft assignment ``P(c|x)`` of each query to the training clusters."""
        H = self._embed_queries(self._check_queries(X))
        return softmax(H @ self.cluster_centroids_.T / self.cluster_temperature_, axis=1)

    def _predict_quality(self, X: Array) -> Array:
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
        return np.asarray(quality)
