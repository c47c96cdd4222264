"""Named evaluation suites: which dataset, which training split, which test sets, which routers.

Suites are data (:class:`Suite`); :func:`load_suite` turns one into the training set and test sets
that :func:`polyroute.evaluation.evaluate` takes, and :func:`run_suite` runs it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.data import RoutingDataset, load_dataset, read_routing_file
from polyroute.evaluation._router_specs import RouterSpec, router_specs
from polyroute.exceptions import DataError, UnknownComponentError

BASELINES = (
    "random",
    "best-single",
    "cheapest",
    "zero-router",
    "knn",
    "mlp",
    "linear",
    "task-oracle",
    "oracle",
)


@dataclass(frozen=True)
class TestSpec:
    """A test set: ``dataset``'s split ``split`` (``None`` = every row)."""

    dataset: str
    split: str | None


@dataclass(frozen=True)
class Suite:
    """An evaluation recipe.

    ``random_split`` (fractions, seeded by ``seed``) is applied to datasets without splits;
    ``expected`` holds reference macro averages ``{(router, test): value}`` a run should reproduce.
    """

    name: str
    description: str
    dataset: str
    train_split: str
    tests: dict[str, TestSpec]
    routers: tuple[str, ...] = BASELINES
    random_split: dict[str, float] | None = None
    seed: int = 0
    cost_weights: tuple[float, ...] | None = None
    #: "scores"/"soft_scores" for every router, or per router name (others use "scores").
    train_target: str | dict[str, str] = "scores"
    stem: str = ""
    #: Options of :func:`polyroute.data.read_routing_file` when ``dataset`` is a file path.
    file_options: dict[str, Any] = field(default_factory=dict)
    #: Models left out of the pool (of the training set and every test set).
    exclude_models: tuple[str, ...] = ()
    expected: dict[tuple[str, str], float] = field(default_factory=dict)


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite(
            name="routerdc",
            description="RouterDC paper split: train on the ID training files; ID test and OOD "
            "test; accuracy convention of data/README.md; no costs",
            dataset="routerdc",
            train_split="train",
            tests={"id": TestSpec("routerdc", "test"), "ood": TestSpec("routerdc", "ood")},
            routers=(
                "random",
                "best-single",
                "zero-router",
                "knn",
                "mlp",
                "linear",
                "task-oracle",
                "oracle",
            ),
            stem="routerdc_baselines",
            # The learned predictors train on P(correct option) for multiple choice (soft targets)
            train_target={"mlp": "soft_scores", "linear": "soft_scores"},
            expected={
                ("best-single", "id"): 0.5456,
                ("task-oracle", "id"): 0.5870,
                ("oracle", "id"): 0.7752,
                ("best-single", "ood"): 0.4395,
                ("task-oracle", "ood"): 0.4636,
                ("oracle", "ood"): 0.7034,
            },
        ),
        Suite(
            name="mmlu-pro",
            description="MMLU-Pro, 29 LLMs: random 60/10/30 train/val/test split per category "
            "(seed 0); cost = params (B) x output kchars",
            dataset="mmlu-pro",
            train_split="train",
            tests={"test": TestSpec("mmlu-pro", "test")},
            random_split={"train": 0.6, "val": 0.1, "test": 0.3},
            stem="mmlu_pro_baselines",
        ),
        Suite(
            name="routerbench",
            description="RouterBench subset (ARC-C, MBPP, Winogrande), 11 LLMs, USD per query; "
            "RouterDC's train/test split",
            dataset="routerbench",
            train_split="train",
            tests={"test": TestSpec("routerbench", "test")},
            stem="routerbench_baselines",
        ),
        Suite(
            name="routellm",
            description="RouteLLM pair GPT-4-1106 vs Mixtral-8x7B: train on a random half of "
            "MMLU (seed 0), test on the other half and on GSM8K; USD; APGR",
            dataset="routellm-mmlu",
            train_split="train",
            tests={
                "mmlu": TestSpec("routellm-mmlu", "test"),
                "gsm8k": TestSpec("routellm-gsm8k", None),
            },
            routers=(
                "random",
                "best-single",
                "cheapest",
                "zero-router",
                "knn",
                "mlp",
                "linear",
                "oracle",
            ),
            random_split={"train": 0.5, "test": 0.5},
            stem="routellm",
        ),
    )
}


def available_suites() -> dict[str, str]:
    """Suite name -> description."""
    return {name: s.description for name, s in SUITES.items()}


def get_suite(name: str) -> Suite:
    if name not in SUITES:
        raise UnknownComponentError("suite", name, list(SUITES))
    return SUITES[name]


def _prepare(ds: RoutingDataset, suite: Suite) -> RoutingDataset:
    ds = without_models(ds, suite.exclude_models)
    if suite.random_split and not ds.splits:
        return ds.random_split(suite.random_split, seed=suite.seed)
    return ds


def without_models(ds: RoutingDataset, exclude: Sequence[str]) -> RoutingDataset:
    """``ds`` without the models ``exclude`` (each must be in the pool; one must remain)."""
    if not exclude:
        return ds
    unknown = [m for m in exclude if m not in ds.model_names]
    if unknown:
        raise DataError(
            f"cannot exclude model(s) {unknown}: not in the pool of {ds.name!r}; "
            f"expected some of: {', '.join(ds.model_names)}"
        )
    keep = [m for m in ds.model_names if m not in set(exclude)]
    if not keep:
        raise DataError(f"excluding {list(exclude)} leaves no model in {ds.name!r}")
    return ds.select_models(keep)


def require_training_results(train: RoutingDataset) -> None:
    """Refuse a pool in which a model has no result on any training prompt (nothing to learn).

    Checked before any embedding or fitting, so the run stops at once with the remedy.
    """
    if train.n_prompts == 0:
        raise DataError(f"training set {train.name!r} has no rows; expected some")
    empty = [m for j, m in enumerate(train.model_names) if np.isnan(train.scores[:, j]).all()]
    if empty:
        raise DataError(
            f"model(s) {', '.join(map(repr, empty))} have no result on any of the "
            f"{train.n_prompts:,} training prompts of {train.name!r}; no router can learn them. "
            f"Leave them out with --exclude-models {','.join(empty)} "
            "(exclude_models in Python)"
        )


def load_suite(
    suite: Suite | str, *, data_dir: str | os.PathLike[str] | None = None
) -> tuple[RoutingDataset, dict[str, RoutingDataset]]:
    """The training set and the labelled test sets of a suite."""
    spec = get_suite(suite) if isinstance(suite, str) else suite
    loaded: dict[str, RoutingDataset] = {}

    def get(name: str) -> RoutingDataset:
        if name not in loaded:
            if Path(name).suffix and Path(name).is_file():
                ds = read_routing_file(name, **spec.file_options)
            else:
                ds = load_dataset(name, data_dir=data_dir)
            loaded[name] = _prepare(ds, spec)
        return loaded[name]

    train = get(spec.dataset).split(spec.train_split)
    require_training_results(train)
    tests = {}
    for label, test in spec.tests.items():
        ds = get(test.dataset)
        tests[label] = (
            ds.split(test.split)
            if test.split
            else ds.subset(range(ds.n_prompts), name=f"{ds.name}:all")
        )
    return train, tests


def run_suite(
    suite: Suite | str,
    *,
    routers: Sequence[str | RouterSpec] | None = None,
    encoder: Any = "minilm",
    cost_weights: list[float] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    show_progress: bool | None = None,
    router_params: dict[str, dict[str, Any]] | None = None,
) -> Any:
    """Load and evaluate a suite; returns the :class:`EvaluationResult`.

    ``routers`` are registry names or specs ``[LABEL=]NAME[:KEY=VALUE,...]``
    (:mod:`polyroute.evaluation._router_specs`), so one router can run in several configurations;
    ``router_params`` maps a label to more constructor parameters. Routers with a
    ``random_state`` left at ``None`` get the suite's ``seed``, so a suite run is reproducible.
    """
    from polyroute.evaluation._harness import evaluate
    from polyroute.routers import make_router

    spec = get_suite(suite) if isinstance(suite, str) else suite
    specs = router_specs(list(routers or spec.routers), router_params)
    train, tests = load_suite(spec, data_dir=data_dir)
    table = {}
    for s in specs:
        router = make_router(s.name, **s.params)
        if router.get_params().get("random_state", 0) is None:
            router.set_params(random_state=spec.seed)  # a suite run is reproducible
        table[s.label] = router
    weights = cost_weights if cost_weights is not None else spec.cost_weights
    target = spec.train_target
    if not isinstance(target, str):  # keyed by registry name: every label of that router
        target = {s.label: target[s.name] for s in specs if s.name in target}
    result = evaluate(
        table,
        train,
        tests,
        encoder=encoder,
        cost_weights=None if weights is None else list(weights),
        train_target=target,
        show_progress=show_progress,
    )
    result.router_specs = {s.label: {"router": s.name, "params": s.params} for s in specs}
    return result
