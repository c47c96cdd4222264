"""Live per-model latency for model-aware routing: an ageing EWMA of each model's answer time.

Every finished upstream call reports its time to first token (streams) or total time; a failure
counts as ``failure_penalty_s``. As in the ``latency-ewma`` balancer, an estimate that is not
refreshed halves every ``decay_half_life_s``: a model that was slow and lost its traffic looks
faster with time, is tried again, and wins its traffic back once it is fast.
:func:`relative_latency` turns the estimates into the [0, 1] scale that ``latency_weight`` (μ)
multiplies, next to λ's relative cost: utility = quality − λ·relative cost − μ·relative latency.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence

import numpy as np


class ModelLatency:
    """Ageing EWMA of answer time per model name (thread-safe, in-process)."""

    def __init__(
        self,
        *,
        alpha: float = 0.3,
        decay_half_life_s: float = 30.0,
        failure_penalty_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.alpha = alpha
        self.decay_half_life_s = decay_half_life_s
        self.failure_penalty_s = failure_penalty_s
        self.clock = clock
        self._lock = threading.Lock()
        self._ewma: dict[str, tuple[float, float]] = {}  # model -> (estimate_s, updated_at)

    def _aged(self, model: str, now: float) -> float | None:
        entry = self._ewma.get(model)
        if entry is None:
            return None
        value, at = entry
        return value * math.pow(0.5, max(0.0, now - at) / self.decay_half_life_s)

    def observe(self, model: str, seconds: float | None) -> None:
        """Record one call's time (``None``: the call failed)."""
        sample = self.failure_penalty_s if seconds is None else max(0.0, seconds)
        with self._lock:
            now = self.clock()
            prev = self._aged(model, now)
            value = sample if prev is None else (1 - self.alpha) * prev + self.alpha * sample
            self._ewma[model] = (value, now)

    def estimates(self, models: Sequence[str]) -> np.ndarray:
        """Seconds per model, NaN where a model has no sample yet."""
        now = self.clock()
        with self._lock:
            vals = [self._aged(m, now) for m in models]
        return np.array([np.nan if v is None else v for v in vals], dtype=np.float64)


def relative_latency(latencies_s: np.ndarray) -> np.ndarray:
    """Latencies over the slowest known one, in [0, 1]; an unmeasured model counts as 0 (it is
    tried, so it gets measured); all zero when nothing is measured."""
    lat = np.asarray(latencies_s, dtype=np.float64)
    known = np.isfinite(lat)
    top = float(lat[known].max()) if known.any() else 0.0
    if top <= 0:
        return np.zeros_like(lat)
    return np.where(known, lat / top, 0.0)
