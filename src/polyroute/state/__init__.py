"""Gateway state that replicas share: in-flight counts, circuits, rate limits, pool changes."""

from polyroute.state._base import StateStore, StoreHealth
from polyroute.state._memory import InMemoryStateStore
from polyroute.state._redis import RedisStateStore

__all__ = ["InMemoryStateStore", "RedisStateStore", "StateStore", "StoreHealth"]
