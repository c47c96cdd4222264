"""Token-bucket rate limiting on top of a :class:`~polyroute.state.StateStore`."""

from __future__ import annotations

from polyroute.state._base import StateStore, validate_bucket


class TokenBucketLimiter:
    """Per-key token bucket: ``burst`` requests at once, refilled at ``rate_per_s``.

    The buckets live in ``store``, so replicas sharing a store share the limit.

    Parameters
    ----------
    store : StateStore
        Where the buckets live.
    rate_per_s : float
        Refill rate in tokens per second (> 0).
    burst : float
        Bucket capacity (> 0); a new key starts full.
    prefix : str
        Namespace of the bucket keys in the store.

    Examples
    --------
    >>> from polyroute.state import InMemoryStateStore
    >>> limiter = TokenBucketLimiter(InMemoryStateStore(), rate_per_s=2.0, burst=1)
    >>> import asyncio
    >>> asyncio.run(limiter.try_acquire("client-a"))
    (True, 0.0)
    >>> allowed, retry_after_s = asyncio.run(limiter.try_acquire("client-a"))
    >>> allowed, round(retry_after_s, 3)
    (False, 0.5)
    """

    def __init__(
        self, store: StateStore, rate_per_s: float, burst: float, *, prefix: str = "ratelimit:"
    ) -> None:
        validate_bucket(rate_per_s, burst, 1)
        self.store = store
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.prefix = prefix

    async def try_acquire(self, key: str, n: float = 1) -> tuple[bool, float]:
        """Take ``n`` tokens for ``key``; returns ``(allowed, retry_after_s)``."""
        return await self.store.take(
            self.prefix + key, rate_per_s=self.rate_per_s, burst=self.burst, n=n
        )
