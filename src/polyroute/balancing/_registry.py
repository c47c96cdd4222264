"""Balancer registry: kebab-case name -> ``"module:Class"``, imported lazily.

Third-party balancers register through the entry-point group ``polyroute.balancers``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from polyroute.exceptions import UnknownComponentError

if TYPE_CHECKING:
    from polyroute.balancing._base import Balancer

_BUILTIN: dict[str, str] = {
    "round-robin": "polyroute.balancing._simple:RoundRobinBalancer",
    "weighted-round-robin": "polyroute.balancing._simple:WeightedRoundRobinBalancer",
    "random": "polyroute.balancing._simple:RandomBalancer",
    "least-connections": "polyroute.balancing._least_conn:LeastConnectionsBalancer",
    "latency-ewma": "polyroute.balancing._latency_ewma:LatencyEwmaBalancer",
    "consistent-hash": "polyroute.balancing._hash_ring:ConsistentHashBalancer",
}


def available_balancers() -> dict[str, str]:
    """All registered names (built-in and entry points) -> ``"module:Class"``."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="polyroute.balancers"):
        found.setdefault(ep.name, ep.value)
    return found


def balancer_class(name: str) -> type[Balancer]:
    """The class registered under ``name``; raises :class:`UnknownComponentError`."""
    table = available_balancers()
    if name not in table:
        raise UnknownComponentError("balancer", name, list(table))
    module, _, attr = table[name].partition(":")
    cls: type[Balancer] = getattr(importlib.import_module(module), attr)
    return cls


def make_balancer(name: str, **params: Any) -> Balancer:
    """Build a balancer by registry name.

    Examples
    --------
    >>> import random
    >>> b = make_balancer("latency-ewma", alpha=0.2, rng=random.Random(0))
    >>> type(b).__name__
    'LatencyEwmaBalancer'
    """
    return balancer_class(name)(**params)
