"""The decision steps that follow the profile lookup: rules, round-robin and the learned choice.

Pure functions of the profile, the view and the numbers; the engine calls them once per request.
The learned step is vectorised over candidates (the per-profile arrays come from the view), so
its cost barely moves between 10 and 500 models.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

from polyroute.engine._types import CandidateTable, RouteDecision
from polyroute.engine._view import CandidateSet, PoolView
from polyroute.exceptions import InvalidRequestError, NoEligibleModelError
from polyroute.gateway_config import ContextRule, RoutingProfile
from polyroute.routers import rank, utility


def cost_weight(profile: RoutingProfile, asked: float | None) -> float:
    """λ for this request: the client's, checked against the profile's range, or the default."""
    if asked is None:
        return profile.cost_weight
    low, high = profile.cost_weight_range
    if not (isinstance(asked, int | float) and math.isfinite(asked) and low <= asked <= high):
        raise InvalidRequestError(
            f"cost_weight: expected a number in [{low:g}, {high:g}] for "
            f"profile {profile.name!r}, found {asked!r}"
        )
    return float(asked)


def direct(model: str, view: PoolView) -> RouteDecision:
    return RouteDecision(
        model=model,
        profile=None,
        strategy="direct",
        reason=f"model {model!r} requested by name",
        cost_weight=None,
        order=(model,),
        view=view,
    )


def by_rule(
    profile: RoutingProfile,
    rule: ContextRule,
    language: str | None,
    lam: float,
    view: PoolView,
) -> RouteDecision:
    """A rule that names its model: that model first, then the profile's fallbacks."""
    assert rule.model is not None
    if rule.model not in view.snapshot.models:
        raise NoEligibleModelError(
            f"rule {rule.name!r} targets model {rule.model!r}, which is not in the pool"
        )
    rest = profile.fallbacks if profile.fallbacks is not None else view.candidate_names(profile)
    order = _dedupe([rule.model, *rest])
    return RouteDecision(
        model=rule.model,
        profile=profile.name,
        strategy="rule",
        reason=f"rule {rule.name!r} matched",
        cost_weight=lam,
        order=tuple(order[: profile.max_models]),
        rule=rule.name,
        language=language,
        view=view,
    )


def round_robin(
    profile: RoutingProfile, candidates: list[str], turn: Iterator[int], view: PoolView
) -> RouteDecision:
    i = next(turn) % len(candidates)
    order = candidates[i:] + candidates[:i]
    if profile.fallbacks is not None:
        order = _dedupe([order[0], *profile.fallbacks])
    return RouteDecision(
        model=order[0],
        profile=profile.name,
        strategy="round-robin",
        reason=f"static round-robin over {len(candidates)} models",
        cost_weight=None,
        order=tuple(order[: profile.max_models]),
        view=view,
    )


def learned(
    profile: RoutingProfile,
    cset: CandidateSet,
    lam: float,
    scores_row: np.ndarray,
    view: PoolView,
    *,
    router_name: str,
    cluster: int | None,
    rule: str | None,
    language: str | None,
    support: float | None = None,
    support_note: str | None = None,
    latency_term: np.ndarray | None = None,
) -> RouteDecision:
    """The first of :func:`~polyroute.routers.rank` over ``cset``; fallbacks in rank order.

    ``scores_row`` is the router's predicted quality for every model it knows (one prompt).
    ``latency_term`` is μ·relative latency per candidate, subtracted from quality before the
    λ·relative cost decision (kept separate so it composes with any cost rule).
    """
    scores = np.asarray(scores_row, dtype=np.float64)[cset.columns]
    rel = cset.relative_cost
    # the one decision rule (routers/_select.py); a partial sort when the pool is large
    net = scores if latency_term is None else scores - latency_term
    ranked = rank(net[None, :], rel, lam, top=max(1, profile.max_models))[0]
    choice = int(ranked[0])
    util = utility(net, rel, lam)
    if not np.isfinite(util[choice]):
        raise NoEligibleModelError(
            f"profile {profile.name!r}: the router predicts no quality for any candidate"
        )
    models = cset.models
    chosen = models[choice]
    if profile.fallbacks is not None:
        order = _dedupe([chosen, *profile.fallbacks])
    else:  # the next models in rank order (models without a prediction come last)
        order = [models[j] for j in ranked[: profile.max_models].tolist()]
    where = f" in cluster {cluster}" if cluster is not None else ""
    reason = (
        f"{router_name}: best quality - {lam:g} x relative cost{where} "
        f"(quality {scores[choice]:.3f}, relative cost {rel[choice]:.3f})"
    )
    if latency_term is not None:
        reason += f"; latency term {latency_term[choice]:.3f}"
    if rule:
        reason = f"rule {rule!r} narrowed candidates; " + reason
    if support_note:
        reason = f"{reason}; {support_note}"
    return RouteDecision(
        model=chosen,
        profile=profile.name,
        strategy="learned",
        reason=reason,
        cost_weight=lam,
        order=tuple(order[: profile.max_models]),
        table=CandidateTable(models, scores, cset.cost_usd, rel, util, cset.has_deployments),
        cluster=cluster,
        rule=rule,
        language=language,
        support=support,
        view=view,
    )


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
