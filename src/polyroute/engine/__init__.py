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
from polyroute.engine._embedding import WINDOW_CHARS, prompt_window
from polyroute.engine._engine import RoutingEngine
from polyroute.engine._rules import complexity, detect_language, has_code
from polyroute.engine._types import Candidate, CandidateTable, RouteDecision, RouteRequest
from polyroute.engine._upstream import (
    HttpxUpstream,
    NativeUpstream,
    Upstream,
    UpstreamResponse,
    UpstreamStream,
    make_upstream,
    status_error,
    translate_httpx,
)
from polyroute.engine._view import PoolView, builtin_router_path, resolve_router_path

__all__ = [
    "WINDOW_CHARS",
    "Candidate",
    "CandidateTable",
    "Completion",
    "Deliverer",
    "EngineObserver",
    "HttpxUpstream",
    "ModelRoute",
    "NativeUpstream",
    "NullObserver",
    "PoolView",
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
    "prompt_window",
    "resolve_router_path",
    "status_error",
    "translate_httpx",
]
