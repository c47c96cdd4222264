"""Circuit breaker per deployment, its state kept in a :class:`~polyroute.state.StateStore`.

States (Nygard, *Release It!*): ``closed`` lets every call through and counts outcomes; it opens
on ``failure_threshold`` consecutive failures, or when the last ``window`` calls (at least
``min_calls`` of them) failed at a rate >= ``failure_rate``. ``open`` refuses calls for
``reset_timeout_s``; then it is ``half_open`` and lets exactly one probe through. The probe's
success closes the circuit, its failure re-opens it. A probe that never reports back frees the
slot after another ``reset_timeout_s``.

The whole state is one small dict updated atomically through ``StateStore.update_state``, so
replicas sharing a Redis store share each circuit, its window and its single probe.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal

from polyroute.exceptions import ConfigError
from polyroute.state import InMemoryStateStore, StateStore

CircuitState = Literal["closed", "open", "half_open"]
StateListener = Callable[[str, str, str], None]  # (name, old_state, new_state)
_CLOSED: dict[str, Any] = {"state": "closed", "consecutive": 0, "window": ""}


def _check_params(
    failure_threshold: int | None,
    failure_rate: float | None,
    window: int,
    min_calls: int,
    reset_timeout_s: float,
) -> None:
    if failure_threshold is not None and (
        not isinstance(failure_threshold, int) or failure_threshold < 1
    ):
        raise ConfigError(
            f"circuit failure_threshold: expected an integer >= 1 or null, "
            f"found {failure_threshold!r}"
        )
    if failure_rate is not None and not 0.0 < failure_rate <= 1.0:
        raise ConfigError(
            f"circuit failure_rate: expected a number in (0, 1] or null, found {failure_rate!r}"
        )
    if not isinstance(window, int) or window < 1:
        raise ConfigError(f"circuit window: expected an integer >= 1, found {window!r}")
    if not isinstance(min_calls, int) or not 1 <= min_calls <= window:
        raise ConfigError(
            f"circuit min_calls: expected an integer in [1, window={window}], found {min_calls!r}"
        )
    if not math.isfinite(reset_timeout_s) or reset_timeout_s <= 0:
        raise ConfigError(
            f"circuit reset_timeout_s: expected a number > 0, found {reset_timeout_s!r}"
        )


class CircuitBreaker:
    """Stops calling a deployment that keeps failing, and probes it again later.

    Parameters
    ----------
    failure_threshold : int or None
        Consecutive failures that open the circuit (``None`` disables this trigger).
    failure_rate : float or None
        Failure rate in (0, 1] over the sliding window that opens it (``None`` disables it).
    window : int
        Number of most recent calls in the sliding window.
    min_calls : int
        Calls the window must hold before the rate trigger applies.
    reset_timeout_s : float
        Seconds the circuit stays open before a probe is allowed.
    clock : callable
        Monotonic seconds (inject a fake clock in tests; replicas sharing a store need a clock
        they agree on, e.g. ``time.time``).
    store : StateStore, optional
        Where the state lives; a private in-memory store when omitted.
    name : str
        Key of this circuit in the store (the deployment's key).
    listener : callable, optional
        Called as ``listener(name, old_state, new_state)`` after each transition.

    Examples
    --------
    >>> now = [0.0]
    >>> cb = CircuitBreaker(failure_threshold=2, reset_timeout_s=10, clock=lambda: now[0])
    >>> cb.record_failure(); cb.record_failure(); cb.state
    'open'
    >>> cb.allow()
    False
    >>> now[0] = 10.0
    >>> cb.allow(), cb.allow()
    (True, False)
    >>> cb.record_success(); cb.state
    'closed'
    """

    def __init__(
        self,
        failure_threshold: int | None = 5,
        failure_rate: float | None = 0.5,
        window: int = 20,
        reset_timeout_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        min_calls: int = 10,
        store: StateStore | None = None,
        name: str = "default",
        listener: StateListener | None = None,
    ) -> None:
        _check_params(failure_threshold, failure_rate, window, min_calls, reset_timeout_s)
        self.failure_threshold = failure_threshold
        self.failure_rate = failure_rate
        self.window = window
        self.min_calls = min_calls
        self.reset_timeout_s = float(reset_timeout_s)
        self.clock = clock
        self.store: StateStore = store if store is not None else InMemoryStateStore()
        self.name = name
        self.listener = listener
        self._key = f"circuit:{name}"

    # -- reading -------------------------------------------------------------------------------
    def _load(self) -> dict[str, Any]:
        return self.store.get_state(self._key) or dict(_CLOSED)

    def _effective(self, data: Mapping[str, Any], now: float) -> CircuitState:
        state = data.get("state", "closed")
        if state == "open" and now - float(data["opened_at"]) >= self.reset_timeout_s:
            return "half_open"
        return state  # type: ignore[no-any-return]

    @property
    def state(self) -> CircuitState:
        """``"closed"``, ``"open"`` or ``"half_open"`` (open and past ``reset_timeout_s``)."""
        return self._effective(self._load(), self.clock())

    def available(self) -> bool:
        """Whether :meth:`allow` would admit a call now, without taking the probe slot."""
        data, now = self._load(), self.clock()
        state = self._effective(data, now)
        if state == "closed":
            return True
        if state == "open":
            return False
        return not self._probe_busy(data, now)

    def _probe_busy(self, data: Mapping[str, Any], now: float) -> bool:
        probe_at = data.get("probe_at")
        return probe_at is not None and now - float(probe_at) < self.reset_timeout_s

    # -- transitions ---------------------------------------------------------------------------
    def _update(self, fn: Callable[[dict[str, Any], float], dict[str, Any] | None]) -> None:
        before: list[str] = []

        def apply(data: dict[str, Any]) -> dict[str, Any] | None:
            data = data or dict(_CLOSED)
            before[:] = [data.get("state", "closed")]
            return fn(data, self.clock())

        after = self.store.update_state(self._key, apply).get("state", "closed")
        if self.listener is not None and before and before[0] != after:
            self.listener(self.name, before[0], after)

    def allow(self) -> bool:
        """Admit a call? In half-open state only one caller at a time gets ``True`` (the probe)."""
        data = self._load()
        if data.get("state", "closed") == "closed":
            return True  # fast path: one read, no write (one round trip on Redis)
        granted = [False]

        def fn(data: dict[str, Any], now: float) -> dict[str, Any] | None:
            state = self._effective(data, now)
            granted[0] = state == "closed"
            if state != "half_open" or self._probe_busy(data, now):
                return None
            granted[0] = True
            return {**data, "state": "half_open", "probe_at": now}

        self._update(fn)
        return granted[0]

    def record_success(self) -> None:
        """Count a success; in half-open state it closes the circuit."""

        def fn(data: dict[str, Any], now: float) -> dict[str, Any] | None:
            state = data.get("state", "closed")
            if state == "half_open":
                return dict(_CLOSED)
            if state == "open":  # a late reply from before the circuit opened: keep it open
                return None
            window = (str(data.get("window", "")) + "0")[-self.window :]
            new = {**data, "consecutive": 0, "window": window}
            return None if new == data else new

        current = self._load()
        if fn(dict(current), self.clock()) is not None:  # skip the write when nothing changes
            self._update(fn)

    def record_failure(self) -> None:
        """Count a failure; it may open the circuit, and in half-open state re-opens it."""

        def fn(data: dict[str, Any], now: float) -> dict[str, Any] | None:
            state = data.get("state", "closed")
            if state == "half_open":
                return self._opened(now)
            if state == "open":
                return None
            consecutive = int(data.get("consecutive", 0)) + 1
            window = (str(data.get("window", "")) + "1")[-self.window :]
            if self._trips(consecutive, window):
                return self._opened(now)
            return {**data, "consecutive": consecutive, "window": window}

        self._update(fn)

    def _trips(self, consecutive: int, window: str) -> bool:
        if self.failure_threshold is not None and consecutive >= self.failure_threshold:
            return True
        if self.failure_rate is None or len(window) < self.min_calls:
            return False
        return window.count("1") / len(window) >= self.failure_rate

    @staticmethod
    def _opened(now: float) -> dict[str, Any]:
        return {"state": "open", "opened_at": now, "consecutive": 0, "window": ""}

    def reset(self) -> None:
        """Force the circuit closed with empty counters (admin action)."""
        self._update(lambda data, now: dict(_CLOSED))

    def __repr__(self) -> str:
        return f"CircuitBreaker(name={self.name!r}, state={self.state!r})"


class CircuitBreakerRegistry:
    """One :class:`CircuitBreaker` per deployment, all sharing one store and one configuration.

    Parameters
    ----------
    store : StateStore, optional
        Shared by every breaker (and, through Redis, by every replica).
    **params
        Passed to each :class:`CircuitBreaker` (``failure_threshold``, ``failure_rate``,
        ``window``, ``min_calls``, ``reset_timeout_s``, ``clock``, ``listener``).

    Examples
    --------
    >>> registry = CircuitBreakerRegistry(failure_threshold=3)
    >>> registry.get("gpt-4o/eu-1").state
    'closed'
    """

    def __init__(self, store: StateStore | None = None, **params: Any) -> None:
        self.store: StateStore = store if store is not None else InMemoryStateStore()
        self._params = params
        CircuitBreaker(store=self.store, **params)  # validate once, up front
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, name: str) -> CircuitBreaker:
        """The breaker of deployment ``name`` (created closed on first use)."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(store=self.store, name=name, **self._params)
            self._breakers[name] = breaker
        return breaker

    def states(self) -> dict[str, CircuitState]:
        """Current state of every breaker used so far, by name (for metrics and admin)."""
        return {name: b.state for name, b in sorted(self._breakers.items())}

    def __contains__(self, name: object) -> bool:
        return name in self._breakers
