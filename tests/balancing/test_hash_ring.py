"""Consistent hashing: stability, spread, ~1/n movement, and the balancer's ring fallback."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from polyroute._types import Deployment
from polyroute.balancing import ConsistentHashBalancer, HashRing, stable_hash
from polyroute.exceptions import ConfigError, NoHealthyDeploymentError

KEYS = [f"user-{i}" for i in range(10_000)]
NODES = [f"node-{i}" for i in range(5)]


def owners(ring: HashRing) -> dict[str, str]:
    return {k: ring.lookup(k) for k in KEYS}


def test_stable_hash_is_pinned_so_every_process_and_replica_agrees() -> None:
    # Python's hash() is salted per process; the ring must not be.
    assert stable_hash("polyroute") == 13990803866434622477


def test_same_key_maps_to_same_node() -> None:
    ring = HashRing(NODES)
    assert owners(ring) == owners(HashRing(list(reversed(NODES))))  # insertion order is irrelevant


def test_10k_keys_spread_within_20_percent_of_even() -> None:
    counts = Counter(owners(HashRing(NODES)).values())
    assert set(counts) == set(NODES)
    assert all(abs(c - 2000) <= 0.2 * 2000 for c in counts.values()), counts


def test_adding_a_sixth_node_moves_about_a_sixth_and_removing_restores() -> None:
    ring = HashRing(NODES)
    before = owners(ring)
    ring.add("node-5")
    after = owners(ring)
    moved = [k for k in KEYS if before[k] != after[k]]
    assert abs(len(moved) / len(KEYS) - 1 / 6) <= 0.04, len(moved)
    assert {after[k] for k in moved} == {"node-5"}  # keys only move to the new node
    ring.remove("node-5")
    assert owners(ring) == before


def test_weights_scale_a_nodes_share() -> None:
    counts = Counter(owners(HashRing({"big": 2.0, "small": 1.0})).values())
    assert counts["big"] / len(KEYS) == pytest.approx(2 / 3, abs=0.05)


def test_iter_nodes_walks_every_distinct_node_once() -> None:
    ring = HashRing(NODES)
    walk = list(ring.iter_nodes("session-1"))
    assert sorted(walk) == NODES and walk[0] == ring.lookup("session-1")


def test_empty_ring_and_bad_parameters_raise() -> None:
    with pytest.raises(NoHealthyDeploymentError, match="hash ring is empty"):
        HashRing().lookup("k")
    with pytest.raises(ConfigError, match="vnodes: expected an integer >= 1, found 0"):
        HashRing(vnodes=0)
    with pytest.raises(ConfigError, match="weight: expected > 0, found 0"):
        HashRing().add("n", 0)


def deployments(n: int) -> list[Deployment]:
    return [Deployment(f"d{i}", "m", f"http://127.0.0.1:{9000 + i}/v1") for i in range(n)]


def test_balancer_keeps_sessions_on_their_deployment() -> None:
    balancer, deps = ConsistentHashBalancer(rng=random.Random(0)), deployments(4)
    first = {k: balancer.choose(deps, key=k) for k in KEYS[:2000]}
    shuffled = random.Random(1).sample(deps, len(deps))
    assert {k: balancer.choose(shuffled, key=k) for k in KEYS[:2000]} == first


def test_balancer_falls_back_to_next_node_and_returns_when_owner_is_back() -> None:
    balancer, deps = ConsistentHashBalancer(), deployments(4)
    home = {k: balancer.choose(deps, key=k) for k in KEYS[:2000]}
    down = deps[2]
    without = {k: balancer.choose([d for d in deps if d is not down], key=k) for k in KEYS[:2000]}
    for key in KEYS[:2000]:
        if home[key] is not down:
            assert without[key] == home[key]  # only the missing node's keys move
        else:
            nxt = next(n for n in balancer.ring.iter_nodes(key) if n != down.key)
            assert without[key].key == nxt  # ... to the next node clockwise
    assert {k: balancer.choose(deps, key=k) for k in KEYS[:2000]} == home


def test_balancer_without_key_is_round_robin() -> None:
    balancer, deps = ConsistentHashBalancer(), deployments(3)
    assert [balancer.choose(deps).name for _ in range(6)] == ["d0", "d1", "d2"] * 2


def test_balancer_forget_drops_a_retired_deployment() -> None:
    balancer, deps = ConsistentHashBalancer(), deployments(3)
    balancer.choose(deps, key="k")
    balancer.forget(deps[0])
    assert deps[0].key not in balancer.ring and len(balancer.ring) == 2
