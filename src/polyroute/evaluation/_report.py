"""Evaluation output: docs-ready markdown tables, JSON, and the PNG of deferral curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

from polyroute.evaluation._harness import EvaluationResult, RouterResult, TestSetResult

ORACLE_MARK = "†"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _num(x: float | None, digits: int = 4) -> str:
    if x is None:
        return "—"
    if math.isinf(x):
        return "never"
    return f"{x:.{digits}f}"


def _cost(x: float) -> str:
    return f"{x:.4g}"


def _router_label(r: RouterResult) -> str:
    return f"{r.name}{ORACLE_MARK}" if r.uses_test_labels else r.name


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def summary_table(result: EvaluationResult) -> str:
    """One row per router: the macro average on every test set (plus Area/APGR where defined)."""
    tests = list(result.tests.values())
    header = ["router"]
    for t in tests:
        header.append(f"{t.name} avg (%)")
        if t.has_costs:
            header += [f"{t.name} Area", f"{t.name} QNC", f"{t.name} AIQ"]
        if _has_apgr(t):
            header.append(f"{t.name} APGR")
    lines = [_row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    for name in tests[0].routers:
        first = tests[0].routers[name]
        cells = [_router_label(first)]
        for t in tests:
            r = t.routers[name]
            cells.append(_pct(r.average))
            if t.has_costs:
                cells += [_num(r.area), _num(r.qnc, 3), _num(r.aiq)]
            if _has_apgr(t):
                cells.append(_num(r.apgr))
        lines.append(_row(cells))
    return "\n".join(lines)


def _has_apgr(t: TestSetResult) -> bool:
    return any(r.apgr is not None for r in t.routers.values())


#: Above this many tasks the per-task table has one row per task (one column per router).
WIDE_TASKS = 12


def per_task_table(test: TestSetResult) -> str:
    """Per-task accuracy (%) of every router on one test set, with cost and curve metrics."""
    if len(test.tasks) > WIDE_TASKS:
        return _per_task_rows(test)
    header = ["router", *test.tasks, "avg"]
    if test.has_costs:
        header += ["mean cost", "Area", "QNC", "AIQ"]
    if _has_apgr(test):
        header.append("APGR")
    lines = [_row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    for r in test.routers.values():
        cells = [_router_label(r), *(_pct(r.task_accuracy[t]) for t in test.tasks), _pct(r.average)]
        if test.has_costs:
            cells += [_cost(r.mean_cost), _num(r.area), _num(r.qnc, 3), _num(r.aiq)]
        if _has_apgr(test):
            cells.append(_num(r.apgr))
        lines.append(_row(cells))
    return "\n".join(lines)


def _per_task_rows(test: TestSetResult) -> str:
    """Transposed per-task table for test sets with many tasks (curve metrics are in the summary)."""
    routers = list(test.routers.values())
    lines = [
        _row(["task", *(_router_label(r) for r in routers)]),
        _row(["---"] + ["---:"] * len(routers)),
    ]
    for task in [*test.tasks, None]:
        label = "**avg**" if task is None else task
        lines.append(
            _row(
                [
                    label,
                    *(_pct(r.average if task is None else r.task_accuracy[task]) for r in routers),
                ]
            )
        )
    return "\n".join(lines)


def single_model_table(test: TestSetResult, cost_unit: str) -> str:
    """Each model alone: micro and macro (task) average, and mean cost when the pool has costs;
    with missing results, also the quality on the queries every model answered."""
    partial = 0 < test.shared.size < test.n_queries
    header = ["model", "quality (%)", "task avg (%)"]
    if partial:
        header.append(f"on shared {test.shared.size:,} (%)")
    if test.has_costs:
        header.append(f"mean cost ({cost_unit})")
    lines = [_row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    macro = test.single_task_average
    order = sorted(range(len(test.model_names)), key=lambda i: test.single_costs[i])
    for i in order:
        best = " (best)" if test.model_names[i] == test.best_single else ""
        cells = [
            test.model_names[i] + best,
            _pct(float(test.single_qualities[i])),
            _pct(None if macro is None else float(macro[i])),
        ]
        if partial:
            cells.append(_pct(float(test.shared_qualities[i])))
        if test.has_costs:
            cells.append(_cost(float(test.single_costs[i])))
        lines.append(_row(cells))
    return "\n".join(lines)


def to_markdown(
    result: EvaluationResult, *, title: str | None = None, plot_name: str | None = None
) -> str:
    """The whole result as markdown: command, setup, summary, per-test tables, definitions."""
    out = [f"# {title or f'Router evaluation: {result.dataset}'}", ""]
    if result.command:
        out += ["Command:", "", "```bash", result.command, "```", ""]
    out += [
        f"Training set `{result.train_name}` ({result.n_train:,} prompts), "
        f"{len(result.model_names)} models, encoder `{result.encoder or 'none (not needed)'}`, "
        f"cost unit `{result.cost_unit}`. Test sets: "
        + ", ".join(f"`{t.name}` ({t.n_queries:,} prompts)" for t in result.tests.values())
        + ".",
        "",
    ]
    if result.embed_time_s:
        spent = ", ".join(f"{k} {v:.2f} s" for k, v in result.embed_time_s.items())
        out += [f"Embedding (shared by all routers; not in their fit/predict times): {spent}.", ""]
    configured = [
        f"`{label}` = `{spec['router']}`"
        + (f" with {json.dumps(spec['params'])}" if spec["params"] else "")
        for label, spec in result.router_specs.items()
        if label != spec["router"] or spec["params"]
    ]
    if configured:
        out += ["Router configurations: " + "; ".join(configured) + ".", ""]
    soft = [k for k, v in result.train_targets.items() if v == "soft_scores"]
    if soft:
        out += [
            (
                f"Trained on `soft_scores` (e.g. P(correct option)) instead of `scores`: "
                f"{', '.join(soft)}."
            ),
            "",
        ]
    out += [
        "## Summary",
        "",
        summary_table(result),
        "",
    ]
    if plot_name:
        out += [f"![deferral curves]({plot_name})", ""]
    for test in result.tests.values():
        out += [
            f"## `{test.name}`: accuracy per task (%)",
            "",
            per_task_table(test),
            "",
            f"Single models on `{test.name}`:",
            "",
            single_model_table(test, result.cost_unit),
            "",
        ]
        if test.shared.size < test.n_queries:
            out += [_shared_note(test), ""]
    out += [_DEFINITIONS.strip(), ""]
    return "\n".join(out)


def _shared_note(test: TestSetResult) -> str:
    if not test.shared.size:
        return (
            f"No prompt of `{test.name}` has a result from every model: QNC is not defined "
            "(no common ground to compare the single models on)."
        )
    return (
        f"Only {test.shared.size:,} of {test.n_queries:,} prompts of `{test.name}` have a result "
        "from every model: the best single model (QNC's reference) is chosen on those, and QNC "
        "compares the router with it on those same prompts."
    )


_DEFINITIONS = f"""
Definitions. Accuracy is the mean quality of the chosen model per task at λ = 0 under the
dataset's scoring convention; *avg* is the macro average over tasks (as the RouterDC paper
reports). Rows marked {ORACLE_MARK} read the test labels (upper bounds, not routers).
Single-point baselines (best-single, cheapest) have no curve, so no Area/AIQ ("—").
The deferral curve sweeps λ in argmax(score − λ·cost) with costs known to the router = mean
training cost per model. **Area**: x = (cost − c_min)/(c_max − c_min) over the single models'
cost range, non-dominated points joined linearly, flat after the last point, 0 before the first,
integrated over [0, 1] (UniRoute). **QNC**: lowest cost on the curve reaching the best single
model's quality, divided by that model's cost ("never" = not reached); single models and router
are compared on the prompts where every model has a result. **AIQ**: the same integral
over RouterBench's non-decreasing convex hull. **APGR** (two-model pools): ∫₀¹ PGR(c) dc with c
the share of strong-model calls and PGR = (q(c) − q_weak)/(q_strong − q_weak) (RouteLLM).
"""


def write_report(
    result: EvaluationResult,
    out_dir: str | Path,
    stem: str,
    *,
    title: str | None = None,
    plot: bool = True,
) -> dict[str, Path]:
    """Write ``{stem}.md``, ``{stem}.json`` and (with ``plot``) ``{stem}.png`` into ``out_dir``."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"md": folder / f"{stem}.md", "json": folder / f"{stem}.json"}
    if plot:
        from polyroute.evaluation._plots import plot_result

        paths["png"] = plot_result(result, folder / f"{stem}.png")
    paths["md"].write_text(
        to_markdown(result, title=title, plot_name=paths["png"].name if plot else None),
        encoding="utf-8",
    )
    paths["json"].write_text(json.dumps(result.to_dict(), indent=1) + "\n", encoding="utf-8")
    return paths
