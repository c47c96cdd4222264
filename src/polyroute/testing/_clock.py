"""``FakeClock``: injected time that moves only when a test says so."""

from __future__ import annotations


class FakeClock:
    """A callable returning seconds that change only through :meth:`advance`.

    Pass it wherever polyroute takes ``clock=`` (balancers, breakers, deadlines, state stores)
    to test time-dependent behaviour without sleeping.

    Examples
    --------
    >>> clock = FakeClock()
    >>> t0 = clock()
    >>> clock.advance(2.5)
    >>> clock() - t0
    2.5
    """

    def __init__(self, start: float = 1000.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` (>= 0)."""
        if seconds < 0:
            raise ValueError(f"expected seconds >= 0, found {seconds!r}")
        self.now += seconds
