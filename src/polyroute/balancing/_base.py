"""The ``Balancer`` base class: pick one deployment of a model, no I/O.

The base class owns what every strategy shares: the empty-candidates error, the
``max_concurrency`` filter and the in-flight counters (kept in a
:class:`~polyroute.state.StateStore`, so replicas sharing a store share the counts and the limit).
Subclasses implement :meth:`Balancer._pick` on the eligible candidates only.
"""

from __future__ import annotations

import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

from polyroute._types import Deployment
from polyroute.exceptions import NoHealthyDeploymentError
from polyroute.state import InMemoryStateStore, StateStore

INFLIGHT_PREFIX = "inflight:"


class Balancer(ABC):
    """Chooses a deployment among a model's healthy candidates.

    Parameters
    ----------
    store : StateStore, optional
        Holds the in-flight counters; a private :class:`~polyroute.state.InMemoryStateStore`
        when omitted.
    rng : random.Random, optional
        Source of randomness (seed it in tests); a fresh unseeded one when omitted.
    clock : callable, optional
        Monotonic seconds; :func:`time.monotonic` when omitted.

    Notes
    -----
    The engine calls ``choose`` then, with no ``await`` in between, ``on_start(dep)``; and exactly
    one of ``on_success``/``on_failure`` in a ``finally`` block, so in-flight counts cannot leak.
    Candidates whose circuit is open are removed by the engine before ``choose``; a candidate at its
    ``max_concurrency`` is skipped here.
    """

    #: Picks follow ``Deployment.weight`` (in proportion, over many picks).
    respects_weights: ClassVar[bool] = False
    #: The same ``key`` maps to the same deployment while the candidates do not change.
    is_key_affine: ClassVar[bool] = False

    def __init__(
        self,
        *,
        store: StateStore | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store: StateStore = store if store is not None else InMemoryStateStore()
        self.rng = rng if rng is not None else random.Random()
        self.clock = clock if clock is not None else time.monotonic
        self._lock = threading.RLock()
        self._loads: dict[str, int] = {}  # in-flight snapshot of the current choose()

    def choose(self, candidates: Sequence[Deployment], *, key: str | None = None) -> Deployment:
        """Return one member of ``candidates``.

        Parameters
        ----------
        candidates : sequence of Deployment
            Healthy deployments of one model.
        key : str, optional
            Affinity key (session or user id); only key-affine strategies use it.

        Raises
        ------
        NoHealthyDeploymentError
            When ``candidates`` is empty or every candidate is at its ``max_concurrency``.
        """
        if not candidates:
            raise NoHealthyDeploymentError(
                "no deployment to choose from: expected at least one healthy candidate, found 0"
            )
        with self._lock:
            counts = self.store.get_many([INFLIGHT_PREFIX + d.key for d in candidates])
            self._loads = {d.key: n for d, n in zip(candidates, counts, strict=True)}
            eligible = [
                d
                for d in candidates
                if d.max_concurrency is None or self._loads[d.key] < d.max_concurrency
            ]
            if not eligible:
                limits = ", ".join(
                    f"{d.name} {self._loads[d.key]}/{d.max_concurrency}" for d in candidates
                )
                raise NoHealthyDeploymentError(
                    f"every deployment of model {candidates[0].model!r} is at its concurrency "
                    f"limit (in flight/limit: {limits})"
                )
            return self._pick(eligible, key)

    @abstractmethod
    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        """Choose among non-empty, eligible candidates (called under the instance lock)."""

    def _load(self, dep: Deployment) -> int:
        """In-flight count of a candidate as read once at the start of this ``choose``."""
        return self._loads.get(dep.key, 0)

    def in_flight(self, dep: Deployment) -> int:
        """Requests started on ``dep`` and not yet finished (as counted in the store)."""
        return self.store.get(INFLIGHT_PREFIX + dep.key)

    def on_start(self, dep: Deployment) -> None:
        """Record that a request to ``dep`` started."""
        self.store.incr(INFLIGHT_PREFIX + dep.key)

    def on_success(self, dep: Deployment, latency_s: float, *, ttft_s: float | None = None) -> None:
        """Record a success; ``latency_s`` is the total time, ``ttft_s`` the first-token time."""
        self.store.decr(INFLIGHT_PREFIX + dep.key)

    def on_failure(self, dep: Deployment, exc: BaseException) -> None:
        """Record a failure (any exception, including cancellation)."""
        self.store.decr(INFLIGHT_PREFIX + dep.key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def weighted_choice(candidates: Sequence[Deployment], rng: random.Random) -> Deployment:
    """Pick one candidate with probability proportional to its weight."""
    total = sum(d.weight for d in candidates)
    point = rng.random() * total
    acc = 0.0
    for dep in candidates:
        acc += dep.weight
        if point < acc:
            return dep
    return candidates[-1]  # float round-off when point is within an ulp of total
