"""PNG plots of evaluation results (matplotlib, Agg backend; imported only when plotting)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from polyroute.evaluation._harness import EvaluationResult, TestSetResult
from polyroute.exceptions import MissingDependencyError


def plot_result(result: EvaluationResult, path: str | Path) -> Path:
    """One panel per test set: deferral curves where the pool has costs, else per-task bars."""
    try:
        import matplotlib
    except ImportError as exc:
        raise MissingDependencyError("matplotlib (for plots)", "eval") from exc
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    tests = list(result.tests.values())
    fig, axes = plt.subplots(1, len(tests), figsize=(6.5 * len(tests), 4.8), squeeze=False)
    for ax, test in zip(axes[0], tests, strict=True):
        if test.has_costs:
            _deferral_panel(ax, test, result.cost_unit)
        else:
            _accuracy_panel(ax, test)
    fig.suptitle(f"{result.dataset}: trained on {result.train_name}", fontsize=11)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _deferral_panel(ax: Any, test: TestSetResult, cost_unit: str) -> None:
    for name, r in test.routers.items():
        cost, quality = r.curve.frontier()
        style = ":" if r.uses_test_labels else "-"
        if len(cost) == 1:
            ax.plot(cost, 100 * quality, "s", ms=6, label=name)
        else:
            ax.plot(cost, 100 * quality, style, marker=".", ms=3, lw=1.4, label=name)
    hull_c, hull_q = test.zero_hull()
    ax.plot(hull_c, 100 * hull_q, "--", color="grey", lw=1, label="single-model hull")
    ax.scatter(
        test.single_costs,
        100 * test.single_qualities,
        c="black",
        s=14,
        zorder=3,
        label="single models",
    )
    if np.all(test.single_costs > 0) and test.single_costs.max() / test.single_costs.min() > 30:
        ax.set_xscale("log")
    ax.set_xlabel(f"mean cost per query ({cost_unit})")
    ax.set_ylabel("mean quality (%)")
    ax.set_title(f"{test.name}: deferral curves")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _accuracy_panel(ax: Any, test: TestSetResult) -> None:
    names = list(test.routers)
    groups = [*test.tasks, "avg"]
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(groups))
    for i, name in enumerate(names):
        r = test.routers[name]
        values = [100 * r.task_accuracy[t] for t in test.tasks] + [100 * r.average]
        ax.bar(x + (i - (len(names) - 1) / 2) * width, values, width, label=name)
    ax.set_ylim(0, 125)  # headroom for the legend above the bars
    ax.set_xticks(x, groups, rotation=20, fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"{test.name}: accuracy per task (no costs in this pool)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=4, loc="upper center")
