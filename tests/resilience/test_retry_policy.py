"""RetryPolicy: exponential backoff with jitter bounds, Retry-After, per-class decisions."""

from __future__ import annotations

import random
import statistics

import pytest

from polyroute.exceptions import (
    AllAttemptsFailedError,
    CircuitOpenError,
    ConfigError,
    RateLimited,
    UpstreamClientError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamServerError,
    UpstreamTimeout,
)
from polyroute.gateway_config import RetrySettings
from polyroute.resilience import RetryPolicy, parse_retry_after

RETRYABLE = [
    UpstreamTimeout,
    UpstreamConnectionError,
    RateLimited,
    UpstreamServerError,
    CircuitOpenError,
]


def test_full_jitter_delays_grow_exponentially_within_bounds() -> None:
    policy = RetryPolicy(
        max_attempts=10, base_delay_s=0.1, max_delay_s=100.0, rng=random.Random(42)
    )
    for attempt in range(1, 6):
        ceiling = 0.1 * 2 ** (attempt - 1)
        samples = [policy.delay_s(attempt, UpstreamServerError("500")) for _ in range(4000)]
        values = [s for s in samples if s is not None]
        assert len(values) == 4000
        assert all(0.0 <= v <= ceiling for v in values)
        assert statistics.fmean(values) == pytest.approx(ceiling / 2, rel=0.05)  # uniform mean
        assert max(values) > 0.98 * ceiling and min(values) < 0.02 * ceiling  # fills the range


def test_backoff_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(max_attempts=50, base_delay_s=1.0, max_delay_s=8.0, jitter="none")
    delays = [policy.delay_s(a, UpstreamTimeout("t")) for a in range(1, 8)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert policy.ceiling_s(10_000) == 8.0  # no overflow on absurd attempt numbers


def test_equal_jitter_stays_in_upper_half() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, jitter="equal", rng=random.Random(0))
    values = [policy.backoff_s(3) for _ in range(1000)]
    assert all(2.0 <= v <= 4.0 for v in values)


def test_jitter_fraction_bounds_the_random_part() -> None:
    policy = RetryPolicy(max_attempts=5, base_delay_s=1.0, jitter=0.25, rng=random.Random(0))
    values = [policy.backoff_s(3) for _ in range(1000)]  # ceiling 4 s: wait in [3, 4]
    assert all(3.0 <= v <= 4.0 for v in values) and min(values) < 3.05


def test_same_seed_same_delays() -> None:
    def draw(seed: int) -> list[float | None]:
        policy = RetryPolicy(max_attempts=9, rng=random.Random(seed))
        return [policy.delay_s(a, RateLimited("429")) for a in range(1, 9)]

    assert draw(1) == draw(1) and draw(1) != draw(2)


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.1, max_retry_after_s=20.0)
    assert policy.delay_s(1, RateLimited("429", status_code=429, retry_after_s=7.0)) == 7.0
    assert policy.delay_s(1, UpstreamServerError("503", retry_after_s=0.0)) == 0.0
    assert policy.delay_s(2, RateLimited("429", retry_after_s=3600.0)) == 20.0
    assert policy.delay_s(3, RateLimited("429", retry_after_s=1.0)) is None  # attempts used up
    assert policy.delay_s(1, RateLimited("429", retry_after_s=float("inf"))) == 20.0


def test_retry_after_beyond_the_max_can_stop_retrying_for_a_fast_fallback() -> None:
    policy = RetryPolicy(max_attempts=3, max_retry_after_s=5.0, retry_after_beyond_max="stop")
    assert policy.delay_s(1, RateLimited("429", retry_after_s=5.0)) == 5.0
    assert policy.delay_s(1, RateLimited("429", retry_after_s=60.0)) is None


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_no_retry_on_client_errors(status: int) -> None:
    policy = RetryPolicy(max_attempts=5)
    exc = UpstreamClientError(f"{status}", status_code=status, retry_after_s=1.0)
    assert policy.delay_s(1, exc) is None


@pytest.mark.parametrize("cls", RETRYABLE)
def test_retryable_classes_are_retried_until_attempts_run_out(cls: type[UpstreamError]) -> None:
    policy = RetryPolicy(max_attempts=3, base_delay_s=0.5, jitter="none")
    assert [policy.delay_s(a, cls("x")) for a in (1, 2, 3)] == [0.5, 1.0, None]


def test_decision_reads_the_class_never_the_message() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay_s(1, UpstreamServerError("400 bad request: invalid schema")) is not None
    assert policy.delay_s(1, UpstreamClientError("503 rate limit, please retry")) is None

    class PermanentServerError(UpstreamServerError):
        retryable = False

    assert policy.delay_s(1, PermanentServerError("500")) is None


def test_non_upstream_and_aggregate_errors_are_not_retried() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay_s(1, ValueError("bug")) is None
    assert policy.delay_s(1, AllAttemptsFailedError("all", attempts=[UpstreamTimeout("t")])) is None


def test_single_attempt_policy_never_retries() -> None:
    assert RetryPolicy(max_attempts=1).delay_s(1, UpstreamTimeout("t")) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_attempts": 0}, "max_attempts: expected an integer >= 1, found 0"),
        ({"jitter": "decorrelated"}, r"jitter: expected a number in \[0, 1\] or one of"),
        ({"jitter": 1.5}, r"jitter: expected a number in \[0, 1\]"),
        ({"base_delay_s": -1.0}, "base_delay_s: expected a finite number >= 0, found -1.0"),
        ({"multiplier": 0.5}, "multiplier: expected a number >= 1, found 0.5"),
        ({"retry_after_beyond_max": "wait"}, "retry_after_beyond_max: expected one of"),
    ],
)
def test_bad_parameters_are_rejected(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_the_gateway_config_jitter_reaches_the_policy() -> None:
    settings = RetrySettings(max_attempts=4, base_delay_s=1.0, max_delay_s=8.0, jitter=0.0)
    policy = RetryPolicy.from_settings(settings)
    assert [policy.delay_s(a, UpstreamTimeout("t")) for a in (1, 2, 3)] == [1.0, 2.0, 4.0]
    half = RetryPolicy.from_settings(settings.model_copy(update={"jitter": 0.5}))
    assert all(2.0 <= half.backoff_s(3) <= 4.0 for _ in range(200))
    assert half.max_retry_after_s == settings.max_retry_after_s


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 1.5 ", 1.5),
        ("-3", 0.0),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 50.0),  # RFC 9110 IMF-fixdate
        ("Thursday, 01-Jan-70 00:01:40 GMT", 50.0),  # obsolete RFC 850 form
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),  # a date in the past: retry now
        ("in a while", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_delay_seconds_and_http_dates(
    value: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(value, now=50.0) == seconds
