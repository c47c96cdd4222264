"""Testing tools: conformance checks and a fake OpenAI-compatible upstream server."""

from polyroute.testing._check_balancer import check_balancer
from polyroute.testing._check_router import check_router
from polyroute.testing._clock import FakeClock
from polyroute.testing._datasets import make_routing_dataset
from polyroute.testing._faults import FaultConfig
from polyroute.testing._postgres import create_database, postgres_available, postgres_server
from polyroute.testing._redis import RedisServer, redis_server, redis_server_available
from polyroute.testing._responders import echo_responder, replay_responder
from polyroute.testing._server import ServerThread
from polyroute.testing._upstream import FakeUpstream

__all__ = [
    "FakeClock",
    "FakeUpstream",
    "FaultConfig",
    "RedisServer",
    "ServerThread",
    "check_balancer",
    "check_router",
    "create_database",
    "echo_responder",
    "make_routing_dataset",
    "postgres_available",
    "postgres_server",
    "redis_server",
    "redis_server_available",
    "replay_responder",
]
