"""The routing engine: decide which model answers (profiles, rules, learned routers) and deliver
the request to one of its deployments with retries, circuit breakers and fallback."""

from polyroute.engine._delivery import (
    Completion,
    Deliverer,
    EngineObserver,
    ModelRoute,
    NullObserver,
    StreamHandle,
)
from polyroute.engine._engine import RoutingEngine, builtin_router_path, resolve_router_path
from polyroute.engine._rules import complexity, detect_language, has_code
from polyroute.engine._types import Candidate, RouteDecision, RouteRequest
from polyroute.engine._upstream import (
    HttpxUpstream,
    NativeUpstream,
    Upstream,
    UpstreamResponse,
    UpstreamStream,
    make_upstream,
    parse_retry_after,
    status_error,
    translate_httpx,
)

__all__ = [
    "Candidate",
    "Completion",
    "Deliverer",
    "EngineObserver",
    "HttpxUpstream",
    "ModelRoute",
    "NativeUpstream",
    "NullObserver",
    "RouteDecision",
    "RouteRequest",
    "RoutingEngine",
    "StreamHandle",
    "Upstream",
    "UpstreamResponse",
    "UpstreamStream",
    "builtin_router_path",
    "complexity",
    "detect_language",
    "has_code",
    "make_upstream",
    "parse_retry_after",
    "resolve_router_path",
    "status_error",
    "translate_httpx",
]
