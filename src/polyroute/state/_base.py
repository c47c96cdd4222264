"""The ``StateStore`` protocol: the small interface behind which gateway state is shared.

Everything a gateway replica must agree on with the other replicas lives here: in-flight counters
per deployment, circuit-breaker state, rate-limit token buckets and pool change notifications.
:class:`~polyroute.state.InMemoryStateStore` serves one process; a Redis-backed store
(:class:`~polyroute.state.RedisStateStore`) lets several replicas share the same state. The
protocol is synchronous: an in-memory call takes a few microseconds; a Redis call is one network
round trip (about 0.1-0.3 ms on loopback on the shared dev box, ``docs/results/balancing.md``) during
which an asyncio caller's loop is blocked. Hot paths therefore make few calls: a balancer decision
reads all loads with one ``get_many``, and a healthy circuit costs one read per ``allow``. The rate-limit call ``take`` is awaited, so
a shared store can answer it without blocking the caller's event loop; a store that cannot
reach its backend degrades (see :meth:`StateStore.health` and ``RedisStateStore``).

==================  ===========================================  =====================================
method              meaning                                      Redis primitive
==================  ===========================================  =====================================
``incr``/``decr``   in-flight counter (never below zero)         ``INCRBY`` / Lua ``DECRBY`` + floor
``get``             read a counter (0 when absent)               ``GET``
``get_many``        read several counters                        ``MGET``
``get_state``       small dict per key (circuit state)           ``HGETALL``
``set_state``       replace that dict                            ``DEL`` + ``HSET`` in ``MULTI``
``update_state``    atomic read-modify-write of that dict        ``WATCH`` / ``MULTI`` / ``EXEC``
``take``            token bucket: (allowed, retry_after_s)       one Lua script (``HGET``/``HSET``)
``publish``         bump ``version(topic)`` and notify           Lua ``INCR`` + ``PUBLISH``
``subscribe``       callback(version, payload) on each publish   ``SUBSCRIBE`` (listener thread)
``version``         monotonically increasing per topic           ``GET``
``health``          available? and fallbacks served so far        (local)
==================  ===========================================  =====================================

State dict values are JSON scalars (``str``, ``int``, ``float``, ``bool``, ``None``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from polyroute.exceptions import ConfigError

StateDict = dict[str, Any]
Subscriber = Callable[[int, dict[str, Any]], None]
Unsubscribe = Callable[[], None]

# Slack for float round-off: waiting exactly ``retry_after_s`` must make ``take`` succeed.
TOKEN_EPSILON = 1e-9


@dataclass(frozen=True)
class StoreHealth:
    """Whether a state store reaches its backend, and how often it answered from a fallback.

    ``fallbacks`` counts calls by kind: ``counter``, ``state``, ``publish``, ``rate_limit_open``
    (allowed without a check) and ``rate_limit_closed`` (refused without a check).
    """

    available: bool
    detail: str
    fallbacks: dict[str, int] = field(default_factory=dict)


@runtime_checkable
class StateStore(Protocol):
    """Shared gateway state; see the module docstring for each method's Redis mapping."""

    def incr(self, key: str, n: int = 1) -> int:
        """Add ``n`` to the counter ``key`` and return the new value."""
        ...

    def decr(self, key: str, n: int = 1) -> int:
        """Subtract ``n`` from the counter ``key`` (floored at 0) and return the new value."""
        ...

    def get(self, key: str) -> int:
        """Return the counter ``key`` (0 when it was never incremented)."""
        ...

    def get_many(self, keys: Sequence[str]) -> list[int]:
        """Return several counters at once, in the order of ``keys`` (one round trip)."""
        ...

    def get_state(self, key: str) -> StateDict:
        """Return a copy of the dict stored under ``key`` (``{}`` when absent)."""
        ...

    def set_state(self, key: str, state: Mapping[str, Any]) -> None:
        """Replace the dict stored under ``key``."""
        ...

    def update_state(
        self, key: str, fn: Callable[[StateDict], Mapping[str, Any] | None]
    ) -> StateDict:
        """Atomically apply ``fn`` to the dict under ``key``.

        ``fn`` receives a copy of the current dict and returns the new one, or ``None`` to leave
        it unchanged; it may run more than once under contention, so it must be pure apart from
        recording its last result. Returns the dict now stored.
        """
        ...

    async def take(
        self, key: str, *, rate_per_s: float, burst: float, n: float = 1
    ) -> tuple[bool, float]:
        """Take ``n`` tokens from the bucket ``key`` (refilled at ``rate_per_s`` up to ``burst``).

        Returns ``(True, 0.0)`` when allowed, else ``(False, retry_after_s)`` where
        ``retry_after_s`` is the wait until ``n`` tokens will be there (``inf`` when
        ``n > burst``: it never will). A refused take consumes nothing.
        """
        ...

    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Bump ``version(topic)``, deliver ``payload`` to subscribers and return the version."""
        ...

    def subscribe(self, topic: str, callback: Subscriber) -> Unsubscribe:
        """Call ``callback(version, payload)`` on every later publish; returns an unsubscribe."""
        ...

    def version(self, topic: str) -> int:
        """Number of publishes on ``topic`` so far (0 before the first)."""
        ...

    def health(self) -> StoreHealth:
        """Whether the backend is reachable now, and the fallbacks served so far."""
        ...

    def close(self) -> None:
        """Release connections and listener threads (idempotent)."""
        ...


def validate_bucket(rate_per_s: float, burst: float, n: float) -> None:
    """Raise :class:`ConfigError` for a non-positive or non-finite rate, burst or count."""
    for name, value in (("rate_per_s", rate_per_s), ("burst", burst), ("n", n)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            raise ConfigError(f"token bucket {name}: expected a finite number > 0, found {value!r}")


def refill(tokens: float, last_s: float, now_s: float, *, rate_per_s: float, burst: float) -> float:
    """Tokens after refilling from ``last_s`` to ``now_s`` (a clock going backwards adds none)."""
    return min(float(burst), tokens + max(0.0, now_s - last_s) * rate_per_s)


def take_tokens(tokens: float, n: float, *, rate_per_s: float, burst: float) -> tuple[float, float]:
    """Return ``(tokens_left, retry_after_s)``; ``retry_after_s == 0`` means the take succeeded."""
    if n > burst:
        return tokens, math.inf
    if tokens + TOKEN_EPSILON >= n:
        return max(0.0, tokens - n), 0.0
    return tokens, (n - tokens) / rate_per_s
