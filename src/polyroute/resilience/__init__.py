"""I/O-free resilience: the retry policy (gateway and onboarding alike) and circuit breakers."""

from polyroute.resilience._breaker import CircuitBreaker, CircuitBreakerRegistry
from polyroute.resilience._retry import RetryPolicy, parse_retry_after

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "RetryPolicy",
    "parse_retry_after",
]
