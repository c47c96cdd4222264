"""Every registered balancer passes ``polyroute.testing.check_balancer``; the check can fail."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from polyroute._types import Deployment
from polyroute.balancing import Balancer, RandomBalancer, available_balancers, make_balancer
from polyroute.testing import FakeClock, check_balancer


@pytest.mark.parametrize("name", sorted(available_balancers()))
def test_registered_balancer_conforms(name: str) -> None:
    check_balancer(lambda: make_balancer(name, rng=random.Random(0), clock=FakeClock()))


class OutsiderBalancer(Balancer):
    """Broken on purpose: returns a deployment that is not a candidate."""

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        return Deployment("elsewhere", "m", "http://127.0.0.1:1/v1")


class LeakyBalancer(RandomBalancer):
    """Broken on purpose: forgets to decrement in-flight on failure."""

    def on_failure(self, dep: Deployment, exc: BaseException) -> None:
        pass


class HeavyFirstBalancer(Balancer):
    """Broken on purpose: claims to respect weights but always picks the first candidate."""

    respects_weights = True

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        return candidates[0]


@pytest.mark.parametrize(
    ("cls", "match"),
    [
        (OutsiderBalancer, "not among the candidates"),
        (LeakyBalancer, "in-flight of"),
        (HeavyFirstBalancer, r"got \d+ of 6000 picks"),
    ],
)
def test_check_balancer_catches_broken_balancers(cls: type[Balancer], match: str) -> None:
    with pytest.raises(AssertionError, match=match):
        check_balancer(lambda: cls(rng=random.Random(0)))
