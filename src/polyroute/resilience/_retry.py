"""Retry decisions: jittered exponential backoff that honours ``Retry-After``.

The one retry policy of polyroute: the gateway's delivery and ``polyroute onboard`` both ask it.
Backoff follows Brooker, "Exponential Backoff And Jitter" (AWS Architecture Blog, 2015): the
n-th retry's ceiling is ``min(max_delay_s, base_delay_s * multiplier ** (n - 1))`` and the wait
is ``ceiling * (1 - jitter * uniform(0, 1))``: ``jitter=1`` is "full jitter" (uniform in
``[0, ceiling]``), ``0.5`` "equal jitter" (``[ceiling/2, ceiling]``), ``0`` no jitter.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from polyroute.exceptions import ConfigError, UpstreamError

if TYPE_CHECKING:
    from polyroute.gateway_config import RetrySettings

Jitter = float | Literal["full", "equal", "none"]
_JITTERS = {"full": 1.0, "equal": 0.5, "none": 0.0}
BeyondMax = Literal["cap", "stop"]
_BEYOND = ("cap", "stop")


class RetryPolicy:
    """When to retry a failed upstream call, and after how long.

    Parameters
    ----------
    max_attempts : int
        Attempts in total, the first included (1 = never retry).
    base_delay_s : float
        Backoff ceiling of the first retry, in seconds.
    max_delay_s : float
        Largest backoff ceiling, in seconds.
    jitter : float in [0, 1], or "full" (1), "equal" (0.5), "none" (0)
        Fraction of the ceiling that is randomised: the wait is uniform in
        ``[(1 - jitter) * ceiling, ceiling]``.
    rng : random.Random, optional
        Source of jitter (seed it in tests).
    multiplier : float
        Growth factor of the ceiling per retry (>= 1).
    max_retry_after_s : float
        Longest ``Retry-After`` wait honoured, in seconds.
    retry_after_beyond_max : {"cap", "stop"}
        For a longer ``Retry-After``: ``"cap"`` waits ``max_retry_after_s`` and retries;
        ``"stop"`` returns ``None`` so the caller falls back at once (the upstream said it will
        not recover soon).

    Examples
    --------
    >>> from polyroute.exceptions import RateLimited, UpstreamClientError
    >>> policy = RetryPolicy(max_attempts=3, base_delay_s=0.5)
    >>> policy.delay_s(1, RateLimited("429", retry_after_s=2.0))
    2.0
    >>> policy.delay_s(1, UpstreamClientError("400 bad request")) is None
    True
    """

    def __init__(
        self,
        max_attempts: int = 3,
        base_delay_s: float = 0.1,
        max_delay_s: float = 5.0,
        jitter: Jitter = 1.0,
        rng: random.Random | None = None,
        *,
        multiplier: float = 2.0,
        max_retry_after_s: float = 30.0,
        retry_after_beyond_max: BeyondMax = "cap",
    ) -> None:
        if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
            raise ConfigError(
                f"retry max_attempts: expected an integer >= 1, found {max_attempts!r}"
            )
        fraction = _JITTERS.get(jitter) if isinstance(jitter, str) else jitter
        if (
            isinstance(fraction, bool)
            or not isinstance(fraction, int | float)
            or not 0.0 <= fraction <= 1.0
        ):
            raise ConfigError(
                f"retry jitter: expected a number in [0, 1] or one of {tuple(_JITTERS)}, "
                f"found {jitter!r}"
            )
        for name, value in (
            ("base_delay_s", base_delay_s),
            ("max_delay_s", max_delay_s),
            ("max_retry_after_s", max_retry_after_s),
        ):
            if not math.isfinite(value) or value < 0:
                raise ConfigError(f"retry {name}: expected a finite number >= 0, found {value!r}")
        if retry_after_beyond_max not in _BEYOND:
            raise ConfigError(
                f"retry retry_after_beyond_max: expected one of {_BEYOND}, "
                f"found {retry_after_beyond_max!r}"
            )
        if not math.isfinite(multiplier) or multiplier < 1:
            raise ConfigError(f"retry multiplier: expected a number >= 1, found {multiplier!r}")
        self.max_attempts = max_attempts
        self.base_delay_s = float(base_delay_s)
        self.max_delay_s = float(max_delay_s)
        self.jitter = float(fraction)
        self.rng = rng if rng is not None else random.Random()
        self.multiplier = float(multiplier)
        self.max_retry_after_s = float(max_retry_after_s)
        self.retry_after_beyond_max: BeyondMax = retry_after_beyond_max

    @classmethod
    def from_settings(
        cls, settings: RetrySettings, rng: random.Random | None = None
    ) -> RetryPolicy:
        """The policy the ``retry:`` section of the gateway config describes."""
        return cls(
            max_attempts=settings.max_attempts,
            base_delay_s=settings.base_delay_s,
            max_delay_s=settings.max_delay_s,
            jitter=settings.jitter,
            rng=rng,
            max_retry_after_s=settings.max_retry_after_s,
        )

    @staticmethod
    def is_retryable(exc: BaseException) -> bool:
        """True for an :class:`UpstreamError` whose class is marked ``retryable``."""
        return isinstance(exc, UpstreamError) and exc.retryable is True

    def ceiling_s(self, attempt: int) -> float:
        """Backoff ceiling after failed attempt number ``attempt`` (1-based), before jitter."""
        exponent = min(max(attempt - 1, 0), 1024)  # avoid float overflow on absurd attempts
        try:
            raw = self.base_delay_s * self.multiplier**exponent
        except OverflowError:
            raw = math.inf
        return min(self.max_delay_s, raw)

    def backoff_s(self, attempt: int) -> float:
        """Jittered backoff after failed attempt number ``attempt`` (1-based)."""
        ceiling = self.ceiling_s(attempt)
        if self.jitter == 0.0:
            return ceiling
        return ceiling * (1.0 - self.jitter * self.rng.random())

    def delay_s(self, attempt: int, exc: BaseException) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to stop retrying.

        Parameters
        ----------
        attempt : int
            Number of the attempt that just failed (1 for the first call).
        exc : BaseException
            The failure. Only ``exc.retryable`` (a class attribute of
            :class:`~polyroute.exceptions.UpstreamError` subclasses) and ``exc.retry_after_s``
            are read, never the message.

        Returns
        -------
        float or None
            ``None`` when attempts are used up or ``exc`` is not retryable (e.g.
            :class:`~polyroute.exceptions.UpstreamClientError` for 400/401); the upstream's
            ``retry_after_s`` when it sent one (beyond ``max_retry_after_s``: capped, or
            ``None`` with ``retry_after_beyond_max="stop"``); otherwise the jittered backoff.
        """
        if attempt >= self.max_attempts or not self.is_retryable(exc):
            return None
        retry_after = getattr(exc, "retry_after_s", None)
        if retry_after is not None:
            wait = max(0.0, float(retry_after))
            if wait <= self.max_retry_after_s:
                return wait
            return self.max_retry_after_s if self.retry_after_beyond_max == "cap" else None
        return self.backoff_s(attempt)

    def __repr__(self) -> str:
        return (
            f"RetryPolicy(max_attempts={self.max_attempts}, base_delay_s={self.base_delay_s}, "
            f"max_delay_s={self.max_delay_s}, jitter={self.jitter!r})"
        )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value; ``None`` if absent or unreadable.

    Both forms of RFC 9110 §10.2.3 are read: delay-seconds (``"120"``) and an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, counted from ``now``, default the wall clock). A
    date in the past means "now" (0 s).

    Examples
    --------
    >>> parse_retry_after("2.5")
    2.5
    >>> parse_retry_after("Thu, 01 Jan 1970 00:00:30 GMT", now=0.0)
    30.0
    >>> parse_retry_after("soon") is None
    True
    """
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, when - (time.time() if now is None else now))
