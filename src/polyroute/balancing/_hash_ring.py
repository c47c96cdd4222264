"""Consistent hashing on a ring with virtual nodes (Karger et al., 1997).

Each node owns ``round(vnodes * weight)`` points on a 64-bit ring (BLAKE2b of ``"node#i"``, stable
across processes and Python versions, unlike ``hash()``); a key belongs to the first point
clockwise from the key's hash. Adding a node to ``n`` nodes moves about ``1/(n+1)`` of the keys,
all of them to the new node; removing it moves them back.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

from polyroute._types import Deployment
from polyroute.balancing._base import Balancer
from polyroute.exceptions import ConfigError, NoHealthyDeploymentError


def stable_hash(text: str) -> int:
    """64-bit BLAKE2b hash of ``text`` (identical in every process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


class HashRing:
    """A consistent-hash ring of named nodes.

    Parameters
    ----------
    nodes : iterable of str, or mapping of str to weight
        Initial nodes (weight 1.0 each when given as names).
    vnodes : int
        Virtual nodes per unit of weight; more gives a more even spread (160 keeps 5 nodes
        within about ±10% of even).

    Examples
    --------
    >>> ring = HashRing(["a", "b", "c"])
    >>> ring.lookup("user-42") == ring.lookup("user-42")
    True
    """

    def __init__(
        self, nodes: Iterable[str] | Mapping[str, float] = (), *, vnodes: int = 160
    ) -> None:
        if not isinstance(vnodes, int) or vnodes < 1:
            raise ConfigError(f"hash ring vnodes: expected an integer >= 1, found {vnodes!r}")
        self.vnodes = vnodes
        self._weights: dict[str, float] = {}
        self._points: list[int] = []
        self._owners: list[str] = []
        items = nodes.items() if isinstance(nodes, Mapping) else ((n, 1.0) for n in nodes)
        for node, weight in items:
            self._weights[node] = float(weight)
        self._rebuild()

    @property
    def nodes(self) -> dict[str, float]:
        """Node name -> weight."""
        return dict(self._weights)

    def __len__(self) -> int:
        return len(self._weights)

    def __contains__(self, node: object) -> bool:
        return node in self._weights

    def add(self, node: str, weight: float = 1.0) -> None:
        """Add ``node`` (or change its weight)."""
        if weight <= 0:
            raise ConfigError(f"hash ring node {node!r} weight: expected > 0, found {weight!r}")
        if self._weights.get(node) != weight:
            self._weights[node] = float(weight)
            self._rebuild()

    def remove(self, node: str) -> None:
        """Remove ``node``; a node that is not there is ignored."""
        if self._weights.pop(node, None) is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        points = sorted(
            (stable_hash(f"{node}#{i}"), node)
            for node, weight in self._weights.items()
            for i in range(max(1, round(self.vnodes * weight)))
        )
        self._points = [p for p, _ in points]
        self._owners = [n for _, n in points]

    def iter_nodes(self, key: str) -> Iterator[str]:
        """Distinct nodes in ring order starting at the owner of ``key``."""
        if not self._points:
            return
        start = bisect.bisect_right(self._points, stable_hash(key))
        seen: set[str] = set()
        size = len(self._points)
        for i in range(size):
            owner = self._owners[(start + i) % size]
            if owner not in seen:
                seen.add(owner)
                yield owner
                if len(seen) == len(self._weights):
                    return

    def lookup(self, key: str) -> str:
        """The node owning ``key``; raises :class:`NoHealthyDeploymentError` on an empty ring."""
        for node in self.iter_nodes(key):
            return node
        raise NoHealthyDeploymentError("hash ring is empty: expected at least one node, found 0")


class ConsistentHashBalancer(Balancer):
    """Keep each ``key`` (session or user id) on the same deployment, for prompt-cache affinity.

    The ring holds every deployment seen so far (weighted virtual nodes); a key's owner that is
    not among the candidates (circuit open, at its concurrency limit, removed) hands the key to
    the next deployment clockwise, which is exactly where removal would send it, and the key
    returns when the owner does. Requests without a key are spread round-robin.

    Parameters
    ----------
    vnodes : int
        Virtual nodes per unit of weight.
    **kw
        ``store``, ``rng``, ``clock`` as for :class:`Balancer`.
    """

    respects_weights: ClassVar[bool] = True
    is_key_affine: ClassVar[bool] = True

    def __init__(self, *, vnodes: int = 160, **kw: Any) -> None:
        super().__init__(**kw)
        self.ring = HashRing(vnodes=vnodes)
        self._next = 0

    def forget(self, dep: Deployment) -> None:
        """Drop a deployment that left the pool for good from the ring."""
        with self._lock:
            self.ring.remove(dep.key)

    def _pick(self, candidates: Sequence[Deployment], key: str | None) -> Deployment:
        if key is None:
            dep = candidates[self._next % len(candidates)]
            self._next += 1
            return dep
        by_key = {d.key: d for d in candidates}
        for dep in candidates:
            self.ring.add(dep.key, dep.weight)
        for node in self.ring.iter_nodes(key):
            if node in by_key:
                return by_key[node]
        raise AssertionError("unreachable: every candidate is on the ring")
