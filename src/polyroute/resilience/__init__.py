"""I/O-free resilience: retry policy, circuit breakers, fallback chain, deadlines."""

from polyroute.resilience._breaker import CircuitBreaker, CircuitBreakerRegistry
from polyroute.resilience._deadline import Deadline, Timeouts
from polyroute.resilience._fallback import FallbackChain
from polyroute.resilience._retry import RetryPolicy

__all__ = [
    "CircuitBreaker",
    "CircuitBreakerRegistry",
    "Deadline",
    "FallbackChain",
    "RetryPolicy",
    "Timeouts",
]
