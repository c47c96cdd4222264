"""Balancers: choose one deployment of a model (round-robin, weighted, least-conn, EWMA, hash)."""

from polyroute.balancing._base import Balancer
from polyroute.balancing._hash_ring import ConsistentHashBalancer, HashRing, stable_hash
from polyroute.balancing._latency_ewma import LatencyEwmaBalancer
from polyroute.balancing._least_conn import LeastConnectionsBalancer
from polyroute.balancing._registry import available_balancers, balancer_class, make_balancer
from polyroute.balancing._simple import (
    RandomBalancer,
    RoundRobinBalancer,
    WeightedRoundRobinBalancer,
)

__all__ = [
    "Balancer",
    "ConsistentHashBalancer",
    "HashRing",
    "LatencyEwmaBalancer",
    "LeastConnectionsBalancer",
    "RandomBalancer",
    "RoundRobinBalancer",
    "WeightedRoundRobinBalancer",
    "available_balancers",
    "balancer_class",
    "make_balancer",
    "stable_hash",
]
