"""``BaseRouter``: the sklearn-style estimator contract every router follows.

A router is fitted on query embeddings ``X`` (n_queries, n_dims) and quality scores ``Y``
(n_queries, n_models, values in [0, 1], NaN = unknown), predicts a quality score per
(query, model), and routes with the single rule in :func:`select` (argmax of score − λ·cost).

Every learned router also says how well its training data covers a prompt (*support* in [0, 1],
:mod:`polyroute.routers._support`) and, with its ``safety`` parameter set, shrinks its prediction
towards each model's mean training quality as support falls (the safe rule). That happens here, in
:meth:`BaseRouter.predict_scores`, so every decision function built on the scores inherits it;
subclasses implement :meth:`BaseRouter._predict_quality`.
Oracle baselines that read the *test* labels set ``uses_test_labels`` and implement
``oracle_scores``; the evaluation harness keeps them apart from real routers.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal, Self, overload

import numpy as np
from sklearn.base import BaseEstimator

from polyroute.exceptions import DataError, NotFittedError
from polyroute.routers._select import select
from polyroute.routers._support import N_NEIGHBORS as SUPPORT_NEIGHBORS
from polyroute.routers._support import (
    SupportScale,
    fit_support,
    prior_quality,
    shrink_to_prior,
    support_from_similarity,
    top_k_similarity,
    unit_rows,
)

Array = np.ndarray
FORMAT_VERSION = 1
#: Weight of the prior in the safe rule's tie-break (below any difference select() resolves).
TIE_BREAK = 1e-9


class BaseRouter(BaseEstimator, ABC):  # type: ignore[misc]
    """Base class of all routers (see module docstring for the contract)."""

    supports_new_models: ClassVar[bool] = False
    nondeterministic: ClassVar[bool] = False
    uses_test_labels: ClassVar[bool] = False
    #: "embedding": X is (n_queries, n_dims) vectors; "text": X is an array of prompt strings
    #: (routers that fine-tune their own encoder). Harness and engine pass X accordingly.
    input_kind: ClassVar[str] = "embedding"
    #: ``{param: (type, low, high)}``: checked by ``_validate_params`` at fit time.
    _constraints: ClassVar[dict[str, tuple[type, float | None, float | None]]] = {}

    # ------------------------------------------------------------------ contract
    @abstractmethod
    def fit(
        self,
        X: Array,
        Y: Array,
        *,
        model_names: Sequence[str],
        tasks: Sequence[str] | None = None,
    ) -> Self:
        """Learn from embeddings ``X`` and quality ``Y``; ``tasks`` is optional side information."""

    @abstractmethod
    def _predict_quality(self, X: Array) -> Array:
        """The router's own quality estimate per (query, model), before the safe rule."""

    @overload
    def predict_scores(self, X: Array, *, return_support: Literal[False] = False) -> Array: ...

    @overload
    def predict_scores(self, X: Array, *, return_support: Literal[True]) -> tuple[Array, Array]: ...

    def predict_scores(
        self, X: Array, *, return_support: bool = False
    ) -> Array | tuple[Array, Array]:
        """Expected quality per (query, model), shape (n_queries, n_models).

        With ``safety`` set, the estimate is shrunk towards each model's mean training quality
        (``prior_quality_``) as support falls: ``prior + s·(estimate − prior)``.

        Parameters
        ----------
        X : array, shape (n_queries, n_dims)
        return_support : bool, default False
            Also return the support ``s`` per query, shape (n_queries,), in [0, 1]: 1 = covered
            like a typical training prompt, 0 = less covered than the share ``safety`` of the
            prompts of tasks left out of training (see :meth:`predict_support`).

        Returns
        -------
        scores : array, shape (n_queries, n_models)
        support : array, shape (n_queries,)
            Only with ``return_support=True``.
        """
        quality = self._predict_quality(X)
        support = self.predict_support(X) if self._support_scale() is not None else None
        if support is None:
            support = np.ones(len(quality))
        elif getattr(self, "safety", None) is not None:
            prior = np.asarray(self.prior_quality_)
            # Exact ties (0/1 labels: many models at 1.0) go to the better model overall, never
            # to the cheapest by accident: a nudge far below any real difference in quality.
            quality = shrink_to_prior(quality, support, prior) + TIE_BREAK * prior
        return (quality, support) if return_support else quality

    @overload
    def predict_support(self, X: Array, *, return_similarity: Literal[False] = False) -> Array: ...

    @overload
    def predict_support(
        self, X: Array, *, return_similarity: Literal[True]
    ) -> tuple[Array, Array]: ...

    def predict_support(
        self, X: Array, *, return_similarity: bool = False
    ) -> Array | tuple[Array, Array]:
        """How well the training data covers each prompt, shape (n_queries,), in [0, 1].

        The mean cosine similarity to the ``SUPPORT_NEIGHBORS`` nearest training prompts, mapped
        linearly from the ``safety``-quantile of that similarity for prompts of a task left out of
        training (support 0) to the same quantile's complement for training prompts of their own
        task (support 1); both measured leave-one-task-out on the training data at fit time.
        Routers that ignore the query (baselines) return 1. With ``return_similarity`` also the
        raw mean similarity (NaN where there is none).
        """
        scale = self._support_scale()
        if scale is None:
            n = len(self._check_X(X)) if self.input_kind == "embedding" else len(X)
            ones = np.ones(n)
            return (ones, np.full(n, np.nan)) if return_similarity else ones
        Xq = self._check_X(X)
        sim = top_k_similarity(Xq, scale.reference, SUPPORT_NEIGHBORS, ref_is_unit=True)
        support = support_from_similarity(sim, scale.low, scale.high)
        return (support, sim) if return_similarity else support

    def _support_scale(self) -> SupportScale | None:
        """The support scale with its reference as float32 unit rows, converted once per fit/load:
        converting the float16 reference on every call cost ~10 ms per routed prompt."""
        ref = getattr(self, "support_reference_", None)
        if ref is None:
            return None
        cached: tuple[Array, SupportScale] | None = getattr(self, "_support_cache", None)
        if cached is None or cached[0] is not ref:
            scale = SupportScale(
                unit_rows(ref), float(self.support_low_), float(self.support_high_)
            )
            cached = (ref, scale)
            self._support_cache = cached
        return cached[1]

    def _fit_support(self, X: Array, Y: Array, tasks: Sequence[str] | None) -> None:
        """Learn the query-blind prior and, with ``safety`` set, the support scale."""
        self.prior_quality_ = prior_quality(Y)
        safety = getattr(self, "safety", None)
        if safety is None or self.input_kind != "embedding":
            return  # text routers (their own encoder) have no embedding to measure support in
        seed = getattr(self, "random_state", None)
        scale = fit_support(X, tasks, safety=float(safety), seed=0 if seed is None else int(seed))
        self.support_reference_ = scale.reference
        self.support_low_ = scale.low
        self.support_high_ = scale.high

    def _extend_prior(self, Y_new: Array) -> None:
        """Append the priors of models added from validation scores ``Y_new`` (n, n_new)."""
        if hasattr(self, "prior_quality_"):
            self.prior_quality_ = np.concatenate([self.prior_quality_, prior_quality(Y_new)])

    def _keep_prior(self, keep: Array) -> None:
        """Keep the priors of the models at indices ``keep`` (after removing models)."""
        if hasattr(self, "prior_quality_"):
            self.prior_quality_ = np.asarray(self.prior_quality_)[keep]

    def _check_safety(self) -> None:
        safety = getattr(self, "safety", None)
        if safety is not None and (
            isinstance(safety, bool)
            or not isinstance(safety, int | float)
            or not 0.0 <= float(safety) < 1.0
        ):
            raise DataError(
                f"{type(self).__name__}.safety must be None (off) or a number in [0, 1); "
                f"found {safety!r}"
            )

    def support_reason(self, support: float, similarity: float | None = None) -> str | None:
        """Why the decision leaned on the prior, for ``polyroute route`` and the gateway's reason
        header; None when support was full (or the safe rule is off).

        ``support`` is one value of :meth:`predict_support`; ``similarity`` (optional) the raw
        similarity to the nearest training prompt from ``predict_support(X, return_similarity=True)``.

        Example
        -------
        >>> router.support_reason(0.0, 0.41)  # doctest: +SKIP
        'low support (nearest training prompt 0.41) → prior: best overall model'
        """
        if getattr(self, "safety", None) is None or support >= 1.0:
            return None
        near = (
            f"nearest training prompt {similarity:.2f}"
            if similarity is not None and not np.isnan(similarity)
            else f"support {support:.2f}"
        )
        if support <= 0.0:
            return f"low support ({near}) → prior: best overall model"
        return f"partial support {support:.2f} ({near}) → prediction shrunk towards the prior"

    def oracle_scores(self, Y_true: Array, tasks: Sequence[str]) -> Array:
        """Scores from test labels; only routers with ``uses_test_labels`` implement this."""
        raise NotImplementedError(f"{type(self).__name__} does not read test labels")

    def route(
        self,
        X: Array,
        costs: Array | None = None,
        *,
        cost_weight: float = 0.0,
        candidates: Sequence[str] | None = None,
    ) -> Array:
        """Index (into ``model_names_``) of the chosen model per query.

        ``candidates`` restricts the choice to a subset of model names at routing time.
        """
        scores = self.predict_scores(X)
        cand = None if candidates is None else self.model_index(candidates)
        return select(scores, costs, cost_weight=cost_weight, candidates=cand)

    # ------------------------------------------------------------------ helpers
    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "model_names_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")

    def model_index(self, names: Sequence[str]) -> Array:
        self._check_fitted()
        lookup = {m: i for i, m in enumerate(self.model_names_)}
        unknown = [n for n in names if n not in lookup]
        if unknown:
            raise DataError(
                f"unknown model(s) {unknown}; router knows: {', '.join(self.model_names_)}"
            )
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def _validate_params(self) -> None:
        for name, (typ, low, high) in self._constraints.items():
            value: Any = getattr(self, name)
            if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
                raise DataError(
                    f"{type(self).__name__}.{name} must be {typ.__name__}; found {value!r}"
                )
            number: Any = value  # a number of type typ (checked above)
            if (low is not None and number < low) or (high is not None and number > high):
                raise DataError(
                    f"{type(self).__name__}.{name} must be in [{low}, {high}]; found {value!r}"
                )

    def _validate_fit(self, X: Array, Y: Array, model_names: Sequence[str]) -> tuple[Array, Array]:
        """Validate params and shapes; reset learned state; return float arrays."""
        self._validate_params()
        X = np.asarray(X, dtype=np.float32)
        Y = np.asarray(Y, dtype=np.float64)
        if X.ndim != 2 or Y.ndim != 2:
            raise DataError(f"X and Y must be 2-D; found X {X.shape}, Y {Y.shape}")
        if X.shape[0] != Y.shape[0]:
            raise DataError(f"X has {X.shape[0]} rows; Y has {Y.shape[0]}")
        if Y.shape[1] != len(model_names):
            raise DataError(
                f"Y has {Y.shape[1]} model columns; model_names has {len(model_names)} entries"
            )
        if X.shape[0] == 0:
            raise DataError("cannot fit a router on 0 queries")
        for attr in [a for a in vars(self) if a.endswith("_") and not a.startswith("_")]:
            delattr(self, attr)  # a refit discards old state
        self.model_names_ = list(model_names)
        self._check_safety()
        return X, Y

    def _check_X(self, X: Array) -> Array:
        self._check_fitted()
        X = np.asarray(X, dtype=np.float32)
        n_dims = getattr(self, "n_features_in_", None)
        if X.ndim != 2 or (n_dims is not None and X.shape[1] != n_dims):
            raise DataError(f"X must have shape (n_queries, {n_dims}); found {X.shape}")
        return X

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Write params (JSON) and learned arrays (``.npz``) into directory ``path``. No pickle."""
        self._check_fitted()
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Array] = {}
        learned: dict[str, Any] = {}
        for key, value in vars(self).items():
            if not key.endswith("_") or key.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[key] = value
            else:
                learned[key] = value
        from polyroute._version import __version__
        from polyroute.routers._registry import registry_name

        meta = {
            "format_version": FORMAT_VERSION,
            "polyroute_version": __version__,
            "router": registry_name(type(self)),
            "params": self.get_params(deep=False),
            "learned": learned,
        }
        (out / "router.json").write_text(json.dumps(meta, indent=2, default=_json_default))
        np.savez(out / "arrays.npz", **arrays)  # type: ignore[arg-type]
        return out

    @classmethod
    def load(cls, path: str | Path) -> BaseRouter:
        """Load a router written by :meth:`save` (any registered class)."""
        from polyroute.routers._registry import load_router

        return load_router(path)

    def _restore(self, learned: dict[str, Any], arrays: dict[str, Array]) -> None:
        """Set learned state after loading; subclasses override to rebuild derived state."""
        for key, value in {**learned, **arrays}.items():
            setattr(self, key, value)


def _json_default(obj: object) -> object:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")
