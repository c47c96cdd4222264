"""Reference routers: random, best single model, cheapest, ZeroRouter and the two oracles.

They bracket every learned router: a useful router beats ``random`` and ``zero-router`` and stays
below ``oracle`` (per query, reads the test labels) and usually below ``task-oracle`` (best model
per task on the test labels). ZeroRouter is UniRoute's (arXiv 2502.08773) cost-only baseline.

Cost handling follows the one routing rule ``argmax score − λ·cost``
(:func:`polyroute.routers.select`): these routers only predict scores, the costs always come
from the caller at routing time, so restricting candidates or changing prices needs no refit.
Routers whose answer should not move with λ carry ``cost_sensitive = False``; the evaluation
harness reports them as a single point (λ = 0) instead of a curve. ``query_independent``
routers ignore the query's content, so the harness skips embedding when every router is one.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np

from polyroute.exceptions import DataError, RoutingError
from polyroute.routers._base import BaseRouter

Array = np.ndarray


def _column_means(Y: Array) -> Array:
    """Per-model mean quality ignoring NaN; a model with no result at all gets 0."""
    known = ~np.isnan(Y)
    counts = known.sum(axis=0)
    sums = np.where(known, Y, 0.0).sum(axis=0)
    return np.asarray(np.divide(sums, counts, out=np.zeros(Y.shape[1]), where=counts > 0))


class _ConstantRouter(BaseRouter):
    """A router whose scores do not depend on the query: one learned row ``scores_``."""

    #: The scores ignore the query's content (the harness then need not embed anything).
    query_independent: ClassVar[bool] = True

    def _fit_constant(self, X: Array, Y: Array, model_names: Sequence[str]) -> Array:
        X, Y = self._validate_fit(X, Y, model_names)
        self.n_features_in_ = int(X.shape[1])
        return Y

    def _predict_quality(self, X: Array) -> Array:
        X = self._check_X(X)
        return np.tile(np.asarray(self.scores_, dtype=np.float64), (X.shape[0], 1))


class ZeroRouter(_ConstantRouter):
    """UniRoute's ZeroRouter: each model's mean training quality, the same for every query.

    With ``cost_weight`` λ the rule ``argmax q_m − λ·c_m`` picks, as λ grows, exactly the vertices
    of the upper convex hull of the single models' (cost, quality) points; the deferral curve's
    linear interpolation between consecutive vertices is the random mixture of the two models, so
    the evaluated curve is the cost–quality hull of the single models — the best that routing
    without looking at the query can do.

    Example
    -------
    >>> r = ZeroRouter().fit(np.zeros((2, 1)), np.array([[1.0, 0.0], [1.0, 1.0]]),
    ...                      model_names=["big", "small"])
    >>> r.predict_scores(np.zeros((1, 1))).tolist()
    [[1.0, 0.5]]
    """

    def __init__(self) -> None:
        pass

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        Y = self._fit_constant(X, Y, model_names)
        self.scores_ = _column_means(Y)
        return self


class BestSingleRouter(ZeroRouter):
    """Every query to the model with the best mean training quality (among the candidates).

    Scores are the models' mean training quality — averaged per task first when ``tasks`` are
    given, i.e. the macro average the papers report (on RouterDC's training split this picks
    dolphin-2.9-llama3-8b, whose micro average is only third) — so a restricted candidate set falls
    back to the next best model. It is a single operating point: ``cost_sensitive = False`` tells
    the harness to evaluate it at λ = 0 only (with λ > 0 it trades off like :class:`ZeroRouter`).
    """

    cost_sensitive: ClassVar[bool] = False

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        Y = self._fit_constant(X, Y, model_names)
        if tasks is None:
            self.scores_ = _column_means(Y)
            return self
        task_arr = np.asarray(tasks, dtype=object)
        if task_arr.shape != (len(Y),):
            raise DataError(f"tasks has {task_arr.size} entries; Y has {len(Y)} rows")
        per_task = [_column_means(Y[task_arr == t]) for t in dict.fromkeys(task_arr.tolist())]
        self.scores_ = np.mean(per_task, axis=0)
        return self


class CheapestRouter(_ConstantRouter):
    """Every query to the cheapest model, using the costs given at routing time.

    Scores are a constant 0.5 for every model, so the decision rule's tie-break (towards the cheaper
    model) and any λ > 0 choose the cheapest model of the costs passed to ``route`` — the router
    needs no costs at fit time and follows price changes. Without costs it picks the first model.
    """

    cost_sensitive: ClassVar[bool] = False

    def __init__(self) -> None:
        pass

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        self._fit_constant(X, Y, model_names)
        self.scores_ = np.full(len(model_names), 0.5)
        return self


class RandomRouter(BaseRouter):
    """Uniformly random scores per (query, model); seeded, so predictions are reproducible.

    Each model's column is drawn from a generator seeded by ``(seed_, crc32(model name))``, so the
    draws do not depend on the order of the model columns. With λ = 0 every query goes to a model
    drawn uniformly at random; with λ > 0 cheaper models are favoured.

    Parameters
    ----------
    random_state : int or None
        Seed; ``None`` draws one at fit time (then fixed: the fitted router is deterministic).
    """

    cost_sensitive: ClassVar[bool] = True
    query_independent: ClassVar[bool] = True

    def __init__(self, *, random_state: int | None = None) -> None:
        self.random_state = random_state

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        X, Y = self._validate_fit(X, Y, model_names)
        self.n_features_in_ = int(X.shape[1])
        rng = np.random.default_rng(self.random_state)
        self.seed_ = (
            int(rng.integers(0, 2**31 - 1)) if self.random_state is None else int(self.random_state)
        )
        return self

    def _predict_quality(self, X: Array) -> Array:
        X = self._check_X(X)
        cols = [
            np.random.default_rng([self.seed_, zlib.crc32(name.encode("utf-8"))]).random(len(X))
            for name in self.model_names_
        ]
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))


class _LabelRouter(BaseRouter):
    """Oracle baselines: they read the test labels through :meth:`oracle_scores`."""

    uses_test_labels: ClassVar[bool] = True
    query_independent: ClassVar[bool] = True

    def __init__(self) -> None:
        pass

    def fit(
        self, X: Array, Y: Array, *, model_names: Sequence[str], tasks: Sequence[str] | None = None
    ) -> Self:
        X, Y = self._validate_fit(X, Y, model_names)
        self.n_features_in_ = int(X.shape[1])
        return self

    def _predict_quality(self, X: Array) -> Array:
        self._check_X(X)
        raise RoutingError(
            f"{type(self).__name__} reads the test labels: call "
            "oracle_scores(Y_true, tasks) instead of predict_scores(X)"
        )

    def _check_labels(self, Y_true: Array, tasks: Sequence[str] | None) -> Array:
        self._check_fitted()
        Y = np.asarray(Y_true, dtype=np.float64)
        m = len(self.model_names_)
        if Y.ndim != 2 or Y.shape[1] != m:
            raise DataError(f"Y_true must have shape (n_queries, {m}); found {Y.shape}")
        if tasks is not None and len(tasks) != len(Y):
            raise DataError(f"tasks has {len(tasks)} entries; Y_true has {len(Y)} rows")
        return Y


class OracleRouter(_LabelRouter):
    """Per-query oracle: the observed quality itself (upper bound on any router)."""

    def oracle_scores(self, Y_true: Array, tasks: Sequence[str] | None = None) -> Array:
        return self._check_labels(Y_true, tasks).copy()


class TaskOracleRouter(_LabelRouter):
    """Best model per task on the test labels: each row gets its task's mean quality per model.

    The ceiling of routers that only recognise the task; on RouterDC it is 58.70 (ID) / 46.36 (OOD).
    """

    def oracle_scores(self, Y_true: Array, tasks: Sequence[str] | None = None) -> Array:
        Y = self._check_labels(Y_true, tasks)
        if tasks is None:
            raise DataError("TaskOracleRouter needs the task of every test query; found tasks=None")
        task_arr = np.asarray(tasks, dtype=object)
        out = np.empty_like(Y)
        for task in dict.fromkeys(task_arr.tolist()):
            rows = task_arr == task
            out[rows] = _column_means(Y[rows])
        return out
