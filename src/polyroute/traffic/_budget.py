"""Spend per client key, model and profile, and budgets per key and period.

* A **hard** budget admits a request only if the key's spend this period, plus what its
  requests in flight are expected to cost, plus this request's expected cost, stays within the
  budget; otherwise the gateway answers 429 ``budget_exceeded``. Requests are settled with their
  actual cost (usage × prices) when they finish.
* A **soft** budget is budget-aware routing: the key's λ is recalibrated every
  ``recalibrate_every`` requests on its recent decisions (:func:`polyroute.traffic.sweep`) so that
  the predicted cost per request × the requests expected in the rest of the period equals the
  budget left. λ rises as spend runs ahead of the period and falls back when it lags.

Spend is kept per gateway process, in memory (periods are aligned to the epoch).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from polyroute.exceptions import DataError
from polyroute.traffic._calibrate import sweep

Array = np.ndarray
BudgetMode = Literal["hard", "soft"]


@dataclass(frozen=True)
class Budget:
    """``limit_usd`` per ``period_s`` for client key ``key``."""

    key: str
    limit_usd: float
    period_s: float = 86400.0
    mode: BudgetMode = "hard"

    def __post_init__(self) -> None:
        if not (self.limit_usd > 0 and self.period_s > 0):
            raise DataError(
                f"budget of key {self.key!r}: expected limit_usd > 0 and period_s > 0; found "
                f"{self.limit_usd}, {self.period_s}"
            )


@dataclass
class _KeyState:
    period_start: float = 0.0
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    n_requests: int = 0
    actual_usd: float = 0.0  # of requests with a cost estimate: what they really cost ...
    estimated_usd: float = 0.0  # ... and what was estimated (corrects the controller's costs)
    cost_weight: float | None = None
    recent: deque[tuple[Array, Array]] = field(default_factory=lambda: deque(maxlen=300))


class SpendTracker:
    """Spend totals and budget enforcement (one per gateway process).

    Parameters
    ----------
    budgets : sequence of Budget
    clock : callable
        Wall-clock seconds (periods are aligned to the epoch).
    recalibrate_every : int
        Soft budgets: requests between two λ recalibrations.
    max_cost_weight : float
        Soft budgets: the highest λ the controller may set.
    """

    def __init__(
        self,
        budgets: Sequence[Budget] = (),
        *,
        clock: Callable[[], float] = time.time,
        recalibrate_every: int = 20,
        max_cost_weight: float = 10.0,
    ) -> None:
        self.budgets = {b.key: b for b in budgets}
        self._clock = clock
        self.recalibrate_every = recalibrate_every
        self.max_cost_weight = max_cost_weight
        self._keys: dict[str, _KeyState] = {}
        self.totals: dict[tuple[str, str, str], float] = defaultdict(float)

    def _state(self, key: str, now: float) -> _KeyState:
        st = self._keys.get(key)
        budget = self.budgets.get(key)
        start = 0.0 if budget is None else now - (now % budget.period_s)
        if st is None or st.period_start != start:
            old = st
            st = self._keys[key] = _KeyState(period_start=start)
            if old is not None:  # keep λ and the traffic sample across periods
                st.cost_weight, st.recent = old.cost_weight, old.recent
                st.reserved_usd = old.reserved_usd
        return st

    # ------------------------------------------------------------------ request path
    def admit(self, key: str | None, expected_usd: float) -> float | None:
        """Reserve ``expected_usd`` for a request of ``key``; returns the reservation.

        Returns ``None`` when a hard budget would be exceeded (the caller answers 429).
        """
        if key is None:
            return 0.0
        budget = self.budgets.get(key)
        expected = max(0.0, expected_usd) if math.isfinite(expected_usd) else 0.0
        st = self._state(key, self._clock())
        if (
            budget is not None
            and budget.mode == "hard"
            and st.spent_usd + st.reserved_usd + expected > budget.limit_usd
        ):
            return None
        st.reserved_usd += expected
        return expected

    def cost_weight(self, key: str | None, default: float) -> float:
        """λ for ``key``: the soft-budget controller's value, else ``default``."""
        if key is None:
            return default
        st = self._keys.get(key)
        lam = None if st is None else st.cost_weight
        return default if lam is None else max(default, lam)

    def settle(
        self,
        key: str | None,
        *,
        reserved_usd: float,
        cost_usd: float | None,
        model: str,
        profile: str | None,
        scores: Array | None = None,
        costs: Array | None = None,
    ) -> None:
        """Book the actual cost of a finished request and release its reservation.

        ``scores`` / ``costs`` (the decision's candidates) feed the soft-budget controller.
        """
        cost = 0.0 if cost_usd is None or not math.isfinite(cost_usd) else float(cost_usd)
        self.totals[(key or "", model, profile or "")] += cost
        if key is None:
            return
        now = self._clock()
        st = self._state(key, now)
        st.reserved_usd = max(0.0, st.reserved_usd - reserved_usd)
        st.spent_usd += cost
        st.n_requests += 1
        if reserved_usd > 0 and cost_usd is not None:
            st.actual_usd += cost
            st.estimated_usd += reserved_usd
        budget = self.budgets.get(key)
        if budget is None or budget.mode != "soft" or scores is None or costs is None:
            return
        st.recent.append((np.asarray(scores, np.float64), np.asarray(costs, np.float64)))
        if st.n_requests % self.recalibrate_every == 0:
            st.cost_weight = self._soft_cost_weight(budget, st, now)

    def _soft_cost_weight(self, budget: Budget, st: _KeyState, now: float) -> float | None:
        elapsed = max(now - st.period_start, 1e-9)
        left_s = budget.period_s - elapsed
        rate = st.n_requests / elapsed
        expected_left = rate * left_s
        budget_left = budget.limit_usd - st.spent_usd
        if expected_left < 1 or len(st.recent) < 2:
            return st.cost_weight
        rows = [r for r in st.recent if r[0].shape == st.recent[-1][0].shape]
        scores = np.stack([r[0] for r in rows])
        costs = np.stack([r[1] for r in rows])
        ratio = st.actual_usd / st.estimated_usd if st.estimated_usd > 0 else 1.0
        target = max(budget_left, 0.0) / expected_left / max(ratio, 1e-9)
        points = sweep(scores, costs, [str(j) for j in range(scores.shape[1])], n_cost_weights=60)
        ok = [p for p in points if p.cost_per_1k_usd / 1000.0 <= target]
        if not ok:
            return self.max_cost_weight
        return min(min(p.cost_weight for p in ok), self.max_cost_weight)

    # ------------------------------------------------------------------ reports
    def spend(self) -> dict[str, object]:
        """Totals per (key, model, profile) and each budgeted key's standing this period."""
        now = self._clock()
        rows = [
            {"key": k or None, "model": m, "profile": p or None, "spend_usd": v}
            for (k, m, p), v in sorted(self.totals.items())
        ]
        budgets = []
        for key, b in self.budgets.items():
            st = self._state(key, now)
            budgets.append(
                {
                    "key": key,
                    "mode": b.mode,
                    "limit_usd": b.limit_usd,
                    "period_s": b.period_s,
                    "period_start": st.period_start,
                    "spent_usd": st.spent_usd,
                    "reserved_usd": st.reserved_usd,
                    "cost_weight": st.cost_weight,
                }
            )
        return {"spend": rows, "budgets": budgets}
