"""Evaluation: deferral curves, Area / QNC / AIQ / APGR, per-task accuracy, and the harness.

The metrics are pure numpy over score matrices; the harness fits routers once, predicts once per
test set, and re-runs only the decision rule for every cost weight λ.
"""

from polyroute.evaluation._harness import EvaluationResult, RouterResult, TestSetResult, evaluate
from polyroute.evaluation._metrics import (
    DeferralCurve,
    aiq,
    apgr,
    area_under_curve,
    best_single_model,
    choice_quality,
    curve_on_rows,
    default_cost_weights,
    deferral_curve,
    nondecreasing_convex_hull,
    pareto_frontier,
    pgr_curve,
    qnc,
    shared_rows,
    single_model_points,
    task_accuracy,
    zero_router_hull,
)
from polyroute.evaluation._report import to_markdown, write_report
from polyroute.evaluation._shift import ShiftResult, run_shift_suite
from polyroute.evaluation._suites import (
    Suite,
    TestSpec,
    available_suites,
    get_suite,
    load_suite,
    run_suite,
)

__all__ = [
    "DeferralCurve",
    "EvaluationResult",
    "RouterResult",
    "ShiftResult",
    "Suite",
    "TestSetResult",
    "TestSpec",
    "aiq",
    "apgr",
    "area_under_curve",
    "available_suites",
    "best_single_model",
    "choice_quality",
    "curve_on_rows",
    "default_cost_weights",
    "deferral_curve",
    "evaluate",
    "get_suite",
    "load_suite",
    "nondecreasing_convex_hull",
    "pareto_frontier",
    "pgr_curve",
    "qnc",
    "run_shift_suite",
    "run_suite",
    "shared_rows",
    "single_model_points",
    "task_accuracy",
    "to_markdown",
    "write_report",
    "zero_router_hull",
]
