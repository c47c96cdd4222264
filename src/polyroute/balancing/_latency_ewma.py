"""Latency-adaptive balancing on an exponentially weighted moving average (EWMA) of latency.

Close to Finagle/Linkerd's "peak EWMA" cost ``ewma * (in_flight + 1)``, with two deviations:
estimates age (an estimate not refreshed for ``decay_half_life_s`` counts half as much, so a
deployment that was slow is probed again later and wins traffic back once it is fast), and a
failure counts as a ``failure_penalty_s`` sample.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from polyroute._types import Deployment
from polyroute.balancing._base import Balancer, weighted_choice
from polyroute.exceptions import ConfigError

_METRICS = ("auto", "latency")


class LatencyEwmaBalancer(Balancer):
    """Send traffic to the deployment with the lowest load-scaled latency estimate.

    Parameters
    ----------
    alpha : float
        EWMA smoothing in (0, 1]: weight of the newest sample.
    metric : {"auto", "latency"}
        ``"auto"`` learns from the time to first token when the engine reports one (streams)
        and from total latency otherwise; ``"latency"`` always uses total latency.
    failure_penalty_s : float
        Sample recorded for a failed request, in seconds.
    decay_half_life_s : float
        Age, in seconds of ``clock``, after which an estimate counts half; ``inf`` disables it.
    **kw
        ``store``, ``rng``, ``clock`` as for :class:`Balancer`.

    Notes
    -----
    Deployments with no sample yet are tried first (the least loaded of them), so a new
    deployment is measured at once. The cost of an explored deployment is
    ``ewma * 0.5 ** (age / decay_half_life_s) * (in_flight + 1)``; ties go to a weighted random
    pick.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        metric: str = "auto",
        failure_penalty_s: float = 10.0,
        decay_half_life_s: float = 30.0,
        **kw: Any,
    ) -> None:
        super().__init__(**kw)
        if not 0.0 < alpha <= 1.0:
            raise ConfigError(f"latency-ewma alpha: expected a number in (0, 1], found {alpha!r}")
        if metric not in _METRICS:
            raise ConfigError(f"latency-ewma metric: expected one of {_METRICS}, found {metric!r}")
        if not failure_penalty_s > 0 or not decay_half_life_s > 0:
            raise ConfigError(
                "latency-ewma failure_penalty_s and decay_half_life_s: expected numbers > 0, "
                f"found {failure_penalty_s!r} and {decay_half_life_s!r}"
            )
        self.alpha = alpha
        self.metric = metric
        self.failure_penalty_s = failure_penalty_s
        self.decay_half_life_s = decay_half_life_s
        self._ewma: dict[str, tuple[float, float]] = {}  # key -> (estimate_s, updated_at)

    respects_weights: ClassVar[bool] = False

    def estimate_s(self, dep: Deployment) -> float | None:
        """Current (aged) latency estimate of ``dep`` in seconds; ``None`` before any sample."""
        entry = self._ewma.get(dep.key)
        if entry is None:
            return None
        value, updated_at = entry
        age = max(0.0, self.clock() - updated_at)
        return value * math.pow(0.5, age / self.decay_half_life_s)

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        unexplored = [d for d in candidates if d.key not in self._ewma]
        if unexplored:
            return min(unexplored, key=self._load)  # first in order among equals
        costs = []
        for dep in candidates:
            estimate = self.estimate_s(dep)
            assert estimate is not None
            costs.append(estimate * (self._load(dep) + 1))
        low = min(costs)
        tied = [d for d, c in zip(candidates, costs, strict=True) if c <= low * (1 + 1e-12)]
        return tied[0] if len(tied) == 1 else weighted_choice(tied, self.rng)

    def _observe(self, dep: Deployment, sample_s: float) -> None:
        with self._lock:
            previous = self.estimate_s(dep)
            value = (
                sample_s
                if previous is None
                else ((1 - self.alpha) * previous + self.alpha * sample_s)
            )
            self._ewma[dep.key] = (value, self.clock())

    def on_success(self, dep: Deployment, latency_s: float, *, ttft_s: float | None = None) -> None:
        super().on_success(dep, latency_s, ttft_s=ttft_s)
        use_ttft = self.metric == "auto" and ttft_s is not None
        self._observe(dep, max(0.0, ttft_s if use_ttft and ttft_s is not None else latency_s))

    def on_failure(self, dep: Deployment, exc: BaseException) -> None:
        super().on_failure(dep, exc)
        self._observe(dep, self.failure_penalty_s)
