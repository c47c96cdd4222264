"""Least-connections: send the request where the fewest are in flight (relative to weight)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from polyroute._types import Deployment
from polyroute.balancing._base import Balancer, weighted_choice


class LeastConnectionsBalancer(Balancer):
    """Pick the candidate with the fewest in-flight requests per unit of weight.

    The score is ``in_flight / weight`` (weighted least-connections, as in nginx and HAProxy);
    ties are broken at random in proportion to weight, so idle deployments share traffic by
    weight. In-flight counts come from the :class:`~polyroute.state.StateStore`, so replicas
    sharing a store balance on the global count.
    """

    respects_weights: ClassVar[bool] = True

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        scores = [self._load(d) / d.weight for d in candidates]
        low = min(scores)
        tied = [d for d, s in zip(candidates, scores, strict=True) if s == low]
        return tied[0] if len(tied) == 1 else weighted_choice(tied, self.rng)
