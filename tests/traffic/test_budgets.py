"""Spend and budgets: a hard budget is never exceeded; a soft budget raises λ so that spend
ends near the budget; totals per key, model and profile."""

from __future__ import annotations

import numpy as np
import pytest

from polyroute.exceptions import DataError
from polyroute.routers import select
from polyroute.testing import FakeClock
from polyroute.traffic import Budget, SpendTracker

COSTS = np.array([0.01, 0.003, 0.0005])


def test_a_hard_budget_is_never_exceeded_and_resets_each_period() -> None:
    clock = FakeClock(start=1000.0)
    spend = SpendTracker([Budget("k", 1.0, period_s=100.0)], clock=clock)
    admitted = 0
    for _ in range(10):
        r = spend.admit("k", 0.3)
        if r is None:
            continue
        admitted += 1
        spend.settle("k", reserved_usd=r, cost_usd=0.3, model="m", profile="auto")
    assert admitted == 3
    st = spend.spend()["budgets"][0]  # type: ignore[index]
    assert st["spent_usd"] == pytest.approx(0.9) and st["spent_usd"] <= 1.0
    # in-flight reservations count too: two concurrent 0.4 requests do not both fit in 1.0 - 0.9
    clock.advance(100.0)
    assert spend.admit("k", 0.6) == 0.6 and spend.admit("k", 0.6) is None
    assert spend.admit(None, 5.0) == 0.0 and spend.admit("other", 5.0) == 5.0


def test_spend_totals_by_key_model_and_profile() -> None:
    spend = SpendTracker()
    spend.settle("a", reserved_usd=0.0, cost_usd=0.5, model="m1", profile="auto")
    spend.settle("a", reserved_usd=0.0, cost_usd=0.25, model="m1", profile="auto")
    spend.settle(None, reserved_usd=0.0, cost_usd=None, model="m2", profile=None)
    rows = spend.spend()["spend"]
    assert rows == [
        {"key": None, "model": "m2", "profile": None, "spend_usd": 0.0},
        {"key": "a", "model": "m1", "profile": "auto", "spend_usd": 0.75},
    ]


@pytest.mark.parametrize("limit", [4.0, 8.0])
def test_a_soft_budget_raises_lambda_so_spend_ends_near_the_budget(limit: float) -> None:
    """2,000 requests over one period; at λ = 0 they would cost about $13."""
    rng = np.random.default_rng(0)
    clock = FakeClock(start=0.0)
    spend = SpendTracker(
        [Budget("k", limit, period_s=2001.0, mode="soft")], clock=clock, recalibrate_every=50
    )
    free = 0.0
    for _ in range(2000):
        clock.advance(1.0)
        scores = np.clip(rng.normal([0.8, 0.7, 0.5], 0.15), 0, 1)
        lam = spend.cost_weight("k", 0.0)
        j = int(select(scores[None], COSTS, cost_weight=lam)[0])
        free += COSTS[int(select(scores[None], COSTS)[0])] * 1.2
        r = spend.admit("k", float(COSTS[j]))
        assert r is not None
        spend.settle(
            "k", reserved_usd=r, cost_usd=COSTS[j] * 1.2, model=str(j), profile="auto",
            scores=scores, costs=COSTS,
        )  # fmt: skip
    spent = spend.spend()["budgets"][0]["spent_usd"]  # type: ignore[index]
    assert free > 1.5 * limit
    assert spent == pytest.approx(limit, rel=0.05)


def test_bad_budgets_are_clear_errors() -> None:
    with pytest.raises(DataError, match="limit_usd > 0"):
        Budget("k", 0.0)
