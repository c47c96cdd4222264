"""In-process :class:`~polyroute.state.StateStore`: dicts behind one lock."""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyroute.state._base import (
    StateDict,
    StoreHealth,
    Subscriber,
    Unsubscribe,
    refill,
    take_tokens,
    validate_bucket,
)

logger = logging.getLogger(__name__)


class InMemoryStateStore:
    """Thread-safe in-process state store.

    Parameters
    ----------
    clock : callable
        Monotonic seconds used by token buckets; inject a fake clock in tests.

    Notes
    -----
    Subscribers run synchronously in the publishing thread, after the lock is released, in the
    order they subscribed. A subscriber that raises is logged and does not stop the others.

    Examples
    --------
    >>> store = InMemoryStateStore()
    >>> store.incr("inflight:gpt/eu-1")
    1
    >>> import asyncio
    >>> asyncio.run(store.take("key:abc", rate_per_s=1.0, burst=2))
    (True, 0.0)
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counters: dict[str, int] = defaultdict(int)
        self._states: dict[str, StateDict] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._versions: dict[str, int] = defaultdict(int)
        self._subscribers: dict[str, list[Subscriber]] = defaultdict(list)

    def incr(self, key: str, n: int = 1) -> int:
        with self._lock:
            self._counters[key] += n
            return self._counters[key]

    def decr(self, key: str, n: int = 1) -> int:
        with self._lock:
            value = max(0, self._counters[key] - n)
            self._counters[key] = value
            return value

    def get(self, key: str) -> int:
        with self._lock:
            return self._counters.get(key, 0)

    def get_many(self, keys: Sequence[str]) -> list[int]:
        with self._lock:
            return [self._counters.get(key, 0) for key in keys]

    def get_state(self, key: str) -> StateDict:
        with self._lock:
            return dict(self._states.get(key, {}))

    def set_state(self, key: str, state: Mapping[str, Any]) -> None:
        with self._lock:
            self._states[key] = dict(state)

    def update_state(
        self, key: str, fn: Callable[[StateDict], Mapping[str, Any] | None]
    ) -> StateDict:
        with self._lock:
            new = fn(dict(self._states.get(key, {})))
            if new is not None:
                self._states[key] = dict(new)
            return dict(self._states.get(key, {}))

    async def take(
        self, key: str, *, rate_per_s: float, burst: float, n: float = 1
    ) -> tuple[bool, float]:
        validate_bucket(rate_per_s, burst, n)
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(burst), now))
            tokens = refill(tokens, last, now, rate_per_s=rate_per_s, burst=burst)
            tokens, retry_after = take_tokens(tokens, n, rate_per_s=rate_per_s, burst=burst)
            self._buckets[key] = (tokens, max(now, last))
        return retry_after == 0.0, retry_after

    def publish(self, topic: str, payload: Mapping[str, Any]) -> int:
        with self._lock:
            self._versions[topic] += 1
            version = self._versions[topic]
            callbacks = list(self._subscribers.get(topic, ()))
        for callback in callbacks:
            try:
                callback(version, dict(payload))
            except Exception:  # a subscriber's bug must not break the publisher or its peers
                logger.exception("subscriber of %r failed on version %d", topic, version)
        return version

    def subscribe(self, topic: str, callback: Subscriber) -> Unsubscribe:
        with self._lock:
            self._subscribers[topic].append(callback)

        def unsubscribe() -> None:
            with self._lock:
                callbacks = self._subscribers.get(topic, [])
                if callback in callbacks:
                    callbacks.remove(callback)

        return unsubscribe

    def version(self, topic: str) -> int:
        with self._lock:
            return self._versions.get(topic, 0)

    def health(self) -> StoreHealth:
        return StoreHealth(available=True, detail="in-process")

    def close(self) -> None:
        with self._lock:
            self._subscribers.clear()
