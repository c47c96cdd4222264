"""CircuitBreaker: consecutive and rate triggers, half-open single probe, close and re-open."""

from __future__ import annotations

import threading

import pytest

from polyroute.exceptions import ConfigError
from polyroute.resilience import CircuitBreaker, CircuitBreakerRegistry
from polyroute.state import InMemoryStateStore
from polyroute.testing import FakeClock


def breaker(clock: FakeClock, **kw: object) -> CircuitBreaker:
    params: dict[str, object] = {
        "failure_threshold": 3,
        "failure_rate": None,
        "reset_timeout_s": 10.0,
        "clock": clock,
    }
    params.update(kw)
    return CircuitBreaker(**params)  # type: ignore[arg-type]


def test_opens_after_n_consecutive_failures() -> None:
    cb = breaker(FakeClock())
    cb.record_failure()
    cb.record_failure()
    cb.record_success()  # resets the streak
    cb.record_failure()
    cb.record_failure()
    assert cb.state == "closed" and cb.allow()
    cb.record_failure()
    assert cb.state == "open"
    assert not cb.allow() and not cb.available()


def test_opens_on_failure_rate_over_the_window() -> None:
    cb = breaker(FakeClock(), failure_threshold=None, failure_rate=0.5, window=10, min_calls=10)
    for i in range(9):  # f s f s ... : 5 failures in 9 calls, below min_calls
        cb.record_failure() if i % 2 == 0 else cb.record_success()
    assert cb.state == "closed"
    cb.record_success()  # 10 calls, 5 failures = 0.5
    assert cb.state == "closed"  # the rate is checked when a failure is recorded
    cb.record_failure()  # window of last 10: 5 failures (the first f slid out) + this = 0.5
    assert cb.state == "open"


def test_old_failures_slide_out_of_the_window() -> None:
    cb = breaker(FakeClock(), failure_threshold=None, failure_rate=0.75, window=4, min_calls=4)
    for outcome in "ffsssssf":
        cb.record_failure() if outcome == "f" else cb.record_success()
    assert cb.state == "closed"  # last 4: s s s f = 0.25
    cb.record_failure()
    cb.record_failure()
    assert cb.state == "open"  # last 4: s f f f = 0.75


def test_half_open_admits_a_single_probe_and_success_closes() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.advance(9.99)
    assert cb.state == "open" and not cb.allow()
    clock.advance(0.01)
    assert cb.state == "half_open" and cb.available()
    assert cb.allow() is True
    assert cb.allow() is False and not cb.available()  # the probe is in flight
    cb.record_success()
    assert cb.state == "closed" and cb.allow() and cb.allow()
    cb.record_failure()
    cb.record_failure()
    assert cb.state == "closed"  # counters were reset on close


def test_failed_probe_reopens_for_a_fresh_timeout() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.advance(10.0)
    assert cb.allow()
    clock.advance(3.0)
    cb.record_failure()
    assert cb.state == "open"
    clock.advance(9.0)
    assert not cb.allow()
    clock.advance(1.0)
    assert cb.allow()


def test_lost_probe_frees_the_slot_after_another_timeout() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.advance(10.0)
    assert cb.allow()  # this probe never reports back
    clock.advance(5.0)
    assert not cb.allow()
    clock.advance(5.0)
    assert cb.allow()


def test_exactly_one_concurrent_probe_across_threads() -> None:
    clock = FakeClock()
    cb = breaker(clock)
    for _ in range(3):
        cb.record_failure()
    clock.advance(10.0)
    barrier, results = threading.Barrier(8), []

    def contend() -> None:
        barrier.wait()
        results.append(cb.allow())

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]


def test_late_success_does_not_close_an_open_circuit() -> None:
    cb = breaker(FakeClock())
    for _ in range(3):
        cb.record_failure()
    cb.record_success()  # a reply to a request sent before the circuit opened
    assert cb.state == "open"


def test_listener_sees_every_transition() -> None:
    clock, seen = FakeClock(), []
    cb = breaker(clock, name="m/d1", listener=lambda *t: seen.append(t))
    for _ in range(3):
        cb.record_failure()
    clock.advance(10.0)
    cb.allow()
    cb.record_failure()
    clock.advance(10.0)
    cb.allow()
    cb.record_success()
    assert seen == [
        ("m/d1", "closed", "open"),
        ("m/d1", "open", "half_open"),
        ("m/d1", "half_open", "open"),
        ("m/d1", "open", "half_open"),
        ("m/d1", "half_open", "closed"),
    ]


def test_reset_forces_closed() -> None:
    cb = breaker(FakeClock())
    for _ in range(3):
        cb.record_failure()
    cb.reset()
    assert cb.state == "closed" and cb.allow()


def test_registry_keeps_one_independent_breaker_per_deployment() -> None:
    store = InMemoryStateStore()
    registry = CircuitBreakerRegistry(
        store, failure_threshold=2, failure_rate=None, clock=FakeClock()
    )
    assert registry.get("m/a") is registry.get("m/a")
    registry.get("m/a").record_failure()
    registry.get("m/a").record_failure()
    registry.get("m/b").record_failure()
    assert registry.states() == {"m/a": "open", "m/b": "closed"}
    assert "m/a" in registry and "m/c" not in registry
    assert store.get_state("circuit:m/a")["state"] == "open"  # the state lives in the store


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"failure_threshold": 0}, "failure_threshold: expected an integer >= 1 or null, found 0"),
        ({"failure_rate": 1.5}, r"failure_rate: expected a number in \(0, 1\] or null, found 1.5"),
        (
            {"window": 5, "min_calls": 6},
            r"min_calls: expected an integer in \[1, window=5\], found 6",
        ),
        ({"reset_timeout_s": 0}, "reset_timeout_s: expected a number > 0, found 0"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=match):
        CircuitBreakerRegistry(**kwargs)
