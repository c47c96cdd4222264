"""``BaseRouter``: the sklearn-style estimator contract every router follows.

A router is fitted on query embeddings ``X`` (n_queries, n_dims) and quality scores ``Y``
(n_queries, n_models, values in [0, 1], NaN = unknown), predicts a quality score per
(query, model), and routes with the single rule in :func:`select` (argmax of score − λ·cost).
Oracle baselines that read the *test* labels set ``uses_test_labels`` and implement
``oracle_scores``; the evaluation harness keeps them apart from real routers.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.base import BaseEstimator

from polyroute.exceptions import DataError, NotFittedError
from polyroute.routers._select import select

Array = np.ndarray
FORMAT_VERSION = 1


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
    def predict_scores(self, X: Array) -> Array:
        """Expected quality per (query, model), shape (n_queries, n_models)."""

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
            value = getattr(self, name)
            if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
                raise DataError(
                    f"{type(self).__name__}.{name} must be {typ.__name__}; found {value!r}"
                )
            if (low is not None and value < low) or (high is not None and value > high):
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
        np.savez(out / "arrays.npz", **arrays)
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
