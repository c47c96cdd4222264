"""``RoutingDataset``: prompts x models quality matrix, optional costs, named splits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from polyroute.exceptions import DataError

Array = np.ndarray


@dataclass(frozen=True, eq=False)
class RoutingDataset:
    """Per-prompt quality of every model in a pool, with costs and named splits.

    Parameters
    ----------
    name : str
        Dataset name, e.g. ``"routerdc"``.
    prompt_ids : array of str, shape (n_prompts,)
        Unique prompt identifiers.
    prompts : array of str, shape (n_prompts,)
        Prompt texts as sent to the models (what a router embeds).
    tasks : array of str, shape (n_prompts,)
        Task or category of each prompt (used for per-task reports and oracles).
    model_names : tuple of str, length n_models
    scores : float array, shape (n_prompts, n_models)
        Quality in [0, 1] (higher is better) under the dataset's evaluation convention; NaN where a
        model has no result for a prompt.
    costs : float array, shape (n_prompts, n_models) or (n_models,), optional
        Cost of answering each prompt with each model (or a per-model constant), in ``cost_unit``.
    cost_unit : str
        What a unit of cost is (``"usd"``, ``"relative"``...). Documented per loader.
    splits : mapping of str to int index arrays
        Named subsets of prompt rows (``"train"``, ``"test"``, ``"ood"``...).
    soft_scores : float array, shape (n_prompts, n_models), optional
        A richer training signal than ``scores`` where the source has one (e.g. the probability
        of the correct option for multiple-choice tasks).
    metadata : mapping
        Free-form provenance (source paths, cost model description).
    """

    name: str
    prompt_ids: Array
    prompts: Array
    tasks: Array
    model_names: tuple[str, ...]
    scores: Array
    costs: Array | None = None
    cost_unit: str = "relative"
    splits: Mapping[str, Array] = field(default_factory=dict)
    soft_scores: Array | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__  # frozen dataclass: normalise once, here
        set_(self, "prompt_ids", np.asarray(self.prompt_ids, dtype=str))
        set_(self, "prompts", np.asarray(self.prompts, dtype=object))
        set_(self, "tasks", np.asarray(self.tasks, dtype=object))
        set_(self, "model_names", tuple(str(m) for m in self.model_names))
        set_(self, "scores", np.asarray(self.scores, dtype=np.float64))
        if self.costs is not None:
            set_(self, "costs", np.asarray(self.costs, dtype=np.float64))
        if self.soft_scores is not None:
            set_(self, "soft_scores", np.asarray(self.soft_scores, dtype=np.float64))
        set_(self, "splits", {k: np.asarray(v, dtype=np.int64) for k, v in self.splits.items()})
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        n, m = len(self.prompt_ids), len(self.model_names)
        where = f"dataset {self.name!r}"
        if m == 0:
            raise DataError(f"{where}: expected at least one model; found none")
        if len(set(self.model_names)) != m:
            dupes = sorted({x for x in self.model_names if self.model_names.count(x) > 1})
            raise DataError(f"{where}: model names must be unique; duplicated: {dupes}")
        for label, arr in (("prompts", self.prompts), ("tasks", self.tasks)):
            if arr.shape != (n,):
                raise DataError(f"{where}: {label} has shape {arr.shape}; expected ({n},)")
        if len(np.unique(self.prompt_ids)) != n:
            raise DataError(
                f"{where}: prompt ids must be unique; {n} rows, "
                f"{len(np.unique(self.prompt_ids))} distinct ids"
            )
        _check_matrix(where, "scores", self.scores, n, m, unit_interval=True)
        if self.soft_scores is not None:
            _check_matrix(where, "soft_scores", self.soft_scores, n, m, unit_interval=True)
        if self.costs is not None:
            if self.costs.ndim == 1:
                if self.costs.shape != (m,):
                    raise DataError(
                        f"{where}: costs has {self.costs.shape[0]} entries; dataset has {m} models"
                    )
            else:
                _check_matrix(where, "costs", self.costs, n, m, unit_interval=False)
            finite = self.costs[np.isfinite(self.costs)]
            if finite.size and finite.min() < 0:
                raise DataError(f"{where}: costs must be >= 0; found {finite.min():g}")
        for split, idx in self.splits.items():
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
                raise DataError(f"{where}: split {split!r} holds row indices outside [0, {n})")

    # ------------------------------------------------------------------ shape
    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_models(self) -> int:
        return len(self.model_names)

    def __len__(self) -> int:
        return self.n_prompts

    def __repr__(self) -> str:
        splits = ", ".join(f"{k}={len(v)}" for k, v in self.splits.items())
        return (
            f"RoutingDataset({self.name!r}, n_prompts={self.n_prompts}, "
            f"n_models={self.n_models}, splits=[{splits}])"
        )

    @property
    def task_names(self) -> list[str]:
        """Distinct tasks in order of first appearance."""
        return list(dict.fromkeys(self.tasks.tolist()))

    # ------------------------------------------------------------------ costs
    def cost_matrix(self) -> Array:
        """Costs as an (n_prompts, n_models) matrix; zeros when the dataset has no costs."""
        if self.costs is None:
            return np.zeros((self.n_prompts, self.n_models))
        if self.costs.ndim == 1:
            return np.broadcast_to(self.costs, (self.n_prompts, self.n_models)).copy()
        return self.costs

    def model_costs(self) -> Array:
        """Mean cost per model, shape (n_models,): what a router knows before it sees a prompt."""
        if self.costs is None:
            return np.zeros(self.n_models)
        if self.costs.ndim == 1:
            return self.costs.copy()
        with np.errstate(invalid="ignore"):
            mean: Array = np.nan_to_num(np.nanmean(self.costs, axis=0), nan=0.0)
        return mean

    # ------------------------------------------------------------------ subsets
    def split(self, name: str) -> RoutingDataset:
        """The rows of split ``name`` as a dataset of their own (named ``dataset:split``)."""
        if name not in self.splits:
            raise DataError(
                f"dataset {self.name!r} has no split {name!r}; "
                f"expected one of: {', '.join(self.splits) or '(none)'}"
            )
        return self.subset(self.splits[name], name=f"{self.name}:{name}")

    def subset(self, rows: Sequence[int] | Array, *, name: str | None = None) -> RoutingDataset:
        """Rows ``rows`` (indices or boolean mask); splits are dropped."""
        idx = np.asarray(rows)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        costs = self.costs if self.costs is None or self.costs.ndim == 1 else self.costs[idx]
        return replace(
            self,
            name=name or self.name,
            prompt_ids=self.prompt_ids[idx],
            prompts=self.prompts[idx],
            tasks=self.tasks[idx],
            scores=self.scores[idx],
            costs=costs,
            soft_scores=None if self.soft_scores is None else self.soft_scores[idx],
            splits={},
        )

    def select_models(self, names: Sequence[str]) -> RoutingDataset:
        """Only the models ``names``, in that order."""
        cols = self.model_indices(names)
        costs = None if self.costs is None else self.costs[..., cols]
        return replace(
            self,
            model_names=tuple(names),
            scores=self.scores[:, cols],
            costs=costs,
            soft_scores=None if self.soft_scores is None else self.soft_scores[:, cols],
        )

    def model_indices(self, names: Sequence[str]) -> Array:
        """Column index of each name in ``names``; unknown names raise a DataError listing them."""
        lookup = {m: i for i, m in enumerate(self.model_names)}
        unknown = [n for n in names if n not in lookup]
        if unknown:
            raise DataError(
                f"dataset {self.name!r} has no model(s) {unknown}; "
                f"expected some of: {', '.join(self.model_names)}"
            )
        return np.array([lookup[n] for n in names], dtype=np.int64)

    def with_splits(self, splits: Mapping[str, Array]) -> RoutingDataset:
        return replace(self, splits=dict(splits))

    def random_split(
        self,
        fractions: Mapping[str, float],
        *,
        seed: int = 0,
        stratify_by_task: bool = True,
    ) -> RoutingDataset:
        """Return a copy with random splits of the given fractions (deterministic under ``seed``).

        Example: ``ds.random_split({"train": 0.6, "val": 0.1, "test": 0.3}, seed=0)``.
        """
        total = sum(fractions.values())
        if not np.isclose(total, 1.0) or any(f < 0 for f in fractions.values()):
            raise DataError(
                f"split fractions must be >= 0 and sum to 1; found {dict(fractions)} "
                f"(sum {total:g})"
            )
        rng = np.random.default_rng(seed)
        groups = (
            [np.flatnonzero(self.tasks == t) for t in self.task_names]
            if stratify_by_task
            else [np.arange(self.n_prompts)]
        )
        parts: dict[str, list[Array]] = {k: [] for k in fractions}
        for rows in groups:
            rows = rng.permutation(rows)
            bounds = np.round(np.cumsum(list(fractions.values())) * len(rows)).astype(int)
            for key, lo, hi in zip(fractions, np.r_[0, bounds[:-1]], bounds, strict=True):
                parts[key].append(rows[lo:hi])
        return self.with_splits({k: np.sort(np.concatenate(v)) for k, v in parts.items()})


def _check_matrix(
    where: str, label: str, arr: Array, n: int, m: int, *, unit_interval: bool
) -> None:
    if arr.shape != (n, m):
        raise DataError(
            f"{where}: {label} has shape {arr.shape}; expected ({n}, {m}) (n_prompts, n_models)"
        )
    finite = arr[np.isfinite(arr)]
    if np.isinf(arr).any():
        raise DataError(f"{where}: {label} contains infinite values")
    if unit_interval and finite.size and (finite.min() < 0 or finite.max() > 1):
        bad = finite[(finite < 0) | (finite > 1)][0]
        r, c = np.argwhere(arr == bad)[0]
        raise DataError(
            f"{where}: {label} must lie in [0, 1]; found {bad:g} at row {r}, column {c}"
        )
