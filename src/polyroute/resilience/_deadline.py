"""Timeouts as plain values and a deadline that tracks what is left of a total budget."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from polyroute.exceptions import ConfigError


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Per-request time limits, in seconds (``None`` = no limit).

    Parameters
    ----------
    total_s : float or None
        Whole request, retries and fallbacks included.
    first_token_s : float or None
        From sending an attempt to its first streamed byte; only before the first byte is a
        stream retried or failed over.
    """

    total_s: float | None = 60.0
    first_token_s: float | None = 15.0

    def __post_init__(self) -> None:
        for name in ("total_s", "first_token_s"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value <= 0):
                raise ConfigError(
                    f"timeouts {name}: expected a number > 0 or null, found {value!r}"
                )


class Deadline:
    """A fixed point in time, ``total_s`` after creation on ``clock``.

    Examples
    --------
    >>> now = [0.0]
    >>> d = Deadline(10.0, clock=lambda: now[0])
    >>> now[0] = 4.0
    >>> d.remaining_s(), d.cap(30.0), d.allows(7.0)
    (6.0, 6.0, False)
    """

    def __init__(
        self, total_s: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.total_s = total_s
        self.expires_at = math.inf if total_s is None else clock() + total_s

    def remaining_s(self) -> float:
        """Seconds left (0 once expired, ``inf`` without a limit)."""
        return max(0.0, self.expires_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.remaining_s() <= 0.0

    def cap(self, timeout_s: float | None) -> float:
        """``timeout_s`` shortened to what is left of the deadline (``None`` = no own limit)."""
        remaining = self.remaining_s()
        return remaining if timeout_s is None else min(timeout_s, remaining)

    def allows(self, delay_s: float) -> bool:
        """Whether waiting ``delay_s`` still leaves time for another attempt."""
        return delay_s < self.remaining_s()
