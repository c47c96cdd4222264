"""Add a model to a fitted UniRoute-style router from graded validation outcomes.

The router's representation is never refitted: the new model's per-cluster profile is computed
from its outcomes on the validation prompts and appended (``router.add_models``). Every change is
made on a copy first and applied only when it succeeded, so a failed onboarding leaves the router
unchanged.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from polyroute.exceptions import DataError, OnboardingError
from polyroute.onboarding._outcomes import Outcome, ValidationItem, outcome_vector
from polyroute.onboarding._runner import EndpointConfig, OutcomeCache, RunReport, run_endpoint
from polyroute.routers import BaseRouter

#: Characters per token used when a per-token price needs a length estimate.
CHARS_PER_TOKEN = 4.0


@dataclass(frozen=True)
class ModelCost:
    """Cost of a model: per query, or per 1k input/output tokens with a length estimate.

    Example
    -------
    >>> ModelCost(per_1k_input_tokens=0.5, per_1k_output_tokens=1.5).per_query_cost(
    ...     mean_prompt_chars=400, mean_output_tokens=200)
    0.35
    """

    per_query: float | None = None
    per_1k_input_tokens: float | None = None
    per_1k_output_tokens: float | None = None

    def __post_init__(self) -> None:
        values = [self.per_query, self.per_1k_input_tokens, self.per_1k_output_tokens]
        if any(v is not None and (not math.isfinite(v) or v < 0) for v in values):
            raise DataError(f"costs must be finite and >= 0; found {values}")
        if self.per_query is not None and (
            self.per_1k_input_tokens is not None or self.per_1k_output_tokens is not None
        ):
            raise DataError("expected a per-query cost or per-token prices, not both")

    @property
    def is_known(self) -> bool:
        return any(
            v is not None
            for v in (self.per_query, self.per_1k_input_tokens, self.per_1k_output_tokens)
        )

    def per_query_cost(self, *, mean_prompt_chars: float, mean_output_tokens: float) -> float:
        """Expected cost of one query (NaN when no price is known)."""
        if self.per_query is not None:
            return float(self.per_query)
        if not self.is_known:
            return math.nan
        tokens_in = mean_prompt_chars / CHARS_PER_TOKEN
        return float(
            (self.per_1k_input_tokens or 0.0) * tokens_in / 1000.0
            + (self.per_1k_output_tokens or 0.0) * mean_output_tokens / 1000.0
        )


def _require_dynamic(router: BaseRouter) -> None:
    if not getattr(router, "supports_new_models", False):
        raise DataError(
            f"{type(router).__name__} cannot take new models without retraining; "
            "expected a router with supports_new_models (e.g. uniroute-kmeans)"
        )


def onboard_model(
    router: BaseRouter,
    name: str,
    X_val: np.ndarray,
    outcomes: Sequence[Outcome],
    *,
    prompt_ids: Sequence[str],
    cost: float | None = None,
    replace: bool = False,
    min_graded: int = 10,
) -> dict[str, Any]:
    """Profile model ``name`` from its graded ``outcomes`` and add it to ``router``.

    Parameters
    ----------
    router : BaseRouter
        A fitted router with ``supports_new_models`` (``uniroute-kmeans``, ``uniroute-learnedmap``,
        ``routerdc``).
    name : str
        Name the model is routed under.
    X_val : array, shape (n_prompts, n_dims)
        Embeddings of the validation prompts, rows aligned to ``prompt_ids``.
    outcomes : sequence of Outcome
        Graded answers; prompt ids must be in ``prompt_ids`` (unknown ids are rejected).
        Outcomes of other models are ignored when the file holds several.
    prompt_ids : sequence of str
        Ids of the rows of ``X_val``.
    cost : float, optional
        Cost per query (stored in the profile, ``model_costs_``).
    replace : bool
        Re-profile a model already in the router instead of refusing.
    min_graded : int
        Fewest graded prompts accepted.

    Returns
    -------
    dict
        The profile summary (``router.profile_summary(name)``).

    Raises
    ------
    DataError
        Unknown prompt ids, a name clash without ``replace``, shape mismatches.
    OnboardingError
        Fewer than ``min_graded`` graded prompts. The router is unchanged on any error.
    """
    _require_dynamic(router)
    X_val = np.asarray(X_val, dtype=np.float32)
    if X_val.ndim != 2 or len(X_val) != len(prompt_ids):
        raise DataError(
            f"X_val has shape {X_val.shape}; expected ({len(prompt_ids)}, n_dims) "
            "(one row per validation prompt id)"
        )
    if len({o.model for o in outcomes}) > 1:
        outcomes = [o for o in outcomes if o.model == name]
    y = np.asarray(outcome_vector(outcomes, prompt_ids), dtype=np.float64)
    graded = np.isfinite(y)
    if graded.sum() < min_graded:
        raise OnboardingError(
            f"{int(graded.sum())} graded prompts for {name!r}; expected at least {min_graded}",
            n_failed=int((~graded).sum()),
            n_total=len(y),
            reasons={"not graded": int((~graded).sum())},
        )
    candidate = copy.deepcopy(router)
    if replace and name in candidate.model_names_:
        candidate.remove_models([name])
    candidate.add_models(
        X_val[graded],
        y[graded, None],
        [name],
        costs=[math.nan if cost is None else float(cost)],
    )
    router.__dict__.update(candidate.__dict__)
    summary: dict[str, Any] = router.profile_summary(name)
    return summary


def check_report(
    report: RunReport, *, max_failed_fraction: float = 0.1, max_unextracted_fraction: float = 0.5
) -> None:
    """Raise ``OnboardingError`` when too many prompts failed or gave no extractable answer."""
    reasons = dict(report.failures)
    if report.n_unextracted:
        reasons["no extractable answer"] = report.n_unextracted
    n = max(report.n_total, 1)
    if report.n_failed > max_failed_fraction * n:
        raise OnboardingError(
            f"{report.n_failed} of {report.n_total} validation prompts failed "
            f"({_reasons(report.failures)}); expected at most {max_failed_fraction:.0%}. "
            "The router is unchanged; rerun to resume (graded answers are cached)",
            n_failed=report.n_failed,
            n_total=report.n_total,
            reasons=reasons,
        )
    if report.n_unextracted > max_unextracted_fraction * n:
        raise OnboardingError(
            f"{report.n_unextracted} of {report.n_total} answers had no extractable answer "
            f"(garbage or wrong format?); expected at most {max_unextracted_fraction:.0%}. "
            "The router is unchanged",
            n_failed=report.n_unextracted,
            n_total=report.n_total,
            reasons=reasons,
        )


def _reasons(counts: Any) -> str:
    return ", ".join(f"{n} {reason}" for reason, n in counts.most_common())


def onboard_endpoint(
    router: BaseRouter,
    name: str,
    items: Sequence[ValidationItem],
    X_val: np.ndarray,
    endpoint: EndpointConfig,
    *,
    cost: ModelCost | None = None,
    cache: OutcomeCache | None = None,
    replace: bool = False,
    max_failed_fraction: float = 0.1,
    max_unextracted_fraction: float = 0.5,
    **run_kwargs: Any,
) -> tuple[dict[str, Any], RunReport]:
    """Run the validation prompts on ``endpoint``, grade, and onboard the model.

    ``X_val`` holds the embeddings of ``items`` (same order). ``run_kwargs`` go to
    :func:`~polyroute.onboarding.collect_outcomes` (concurrency, max_attempts, progress...).
    Returns ``(profile summary, run report)``; raises ``OnboardingError`` (router unchanged) when
    more than ``max_failed_fraction`` of the prompts failed or more than
    ``max_unextracted_fraction`` gave no extractable answer.
    """
    _require_dynamic(router)
    report = run_endpoint(items, endpoint, name=name, cache=cache, **run_kwargs)
    check_report(
        report,
        max_failed_fraction=max_failed_fraction,
        max_unextracted_fraction=max_unextracted_fraction,
    )
    mean_chars = float(np.mean([len(it.prompt) for it in items])) if items else 0.0
    mean_out = float(np.mean(report.output_tokens)) if report.output_tokens else 256.0
    per_query = (cost or ModelCost()).per_query_cost(
        mean_prompt_chars=mean_chars, mean_output_tokens=mean_out
    )
    summary = onboard_model(
        router,
        name,
        X_val,
        report.outcomes,
        prompt_ids=[it.prompt_id for it in items],
        cost=None if math.isnan(per_query) else per_query,
        replace=replace,
    )
    summary["run"] = {
        "graded": len(report.outcomes),
        "failed": report.n_failed,
        "failures": dict(report.failures),
        "cached": report.n_cached,
        "unextracted": report.n_unextracted,
        "mean_output_tokens": mean_out,
    }
    return summary, report


def format_summary(summary: dict[str, Any]) -> str:
    """A small text table of a profile summary (per-cluster n, raw and smoothed accuracy; raw is
    "-" for a cluster with less than half a prompt)."""
    acc = summary.get("accuracy")
    cost = summary.get("cost")
    lines = [
        (
            f"model {summary['model']}: {summary['n_prompts']:g} graded prompts, accuracy "
            f"{'n/a' if acc is None else f'{acc:.3f}'}, cost/query "
            f"{'unknown' if cost is None else f'{cost:.6g}'}"
        ),
        f"{'cluster':>8} {'n':>7} {'raw acc':>8} {'profile':>8}",
    ]
    for row in summary["clusters"]:
        raw = "-" if row.get("raw_accuracy") is None else f"{row['raw_accuracy']:.3f}"
        lines.append(f"{row['cluster']:>8} {row['n']:>7.1f} {raw:>8} {row['accuracy']:>8.3f}")
    return "\n".join(lines)
