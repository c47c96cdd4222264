"""Static strategies: round-robin, smooth weighted round-robin, weighted random."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from polyroute._types import Deployment
from polyroute.balancing._base import Balancer, weighted_choice


class RoundRobinBalancer(Balancer):
    """Cycle through the candidates in order, ignoring weights and load.

    Examples
    --------
    >>> from polyroute._types import Deployment
    >>> deps = [Deployment(n, "m", "http://x/v1") for n in "abc"]
    >>> b = RoundRobinBalancer()
    >>> [b.choose(deps).name for _ in range(4)]
    ['a', 'b', 'c', 'a']
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._next = 0

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        dep = candidates[self._next % len(candidates)]
        self._next += 1
        return dep


class WeightedRoundRobinBalancer(Balancer):
    """Smooth weighted round-robin (the nginx algorithm).

    Each pick adds every candidate's weight to its running score, picks the highest score (first
    in order on ties) and subtracts the total weight from the winner. Over one period of
    ``sum(weights)`` picks each deployment is chosen exactly ``weight`` times (integer weights),
    interleaved rather than in bursts: weights 5/1/1 give ``a a b a c a a``.

    Scores of deployments missing from a call are kept, so a deployment that briefly leaves the
    candidates (circuit open) resumes where it was.
    """

    respects_weights: ClassVar[bool] = True

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._current: dict[str, float] = {}

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        total = 0.0
        best: Deployment | None = None
        best_score = 0.0
        for dep in candidates:
            score = self._current.get(dep.key, 0.0) + dep.weight
            self._current[dep.key] = score
            total += dep.weight
            if best is None or score > best_score:
                best, best_score = dep, score
        assert best is not None  # candidates is non-empty
        self._current[best.key] -= total
        return best


class RandomBalancer(Balancer):
    """Pick at random with probability proportional to ``weight`` (seed ``rng`` in tests)."""

    respects_weights: ClassVar[bool] = True

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        return weighted_choice(candidates, self.rng)
