"""Prometheus metrics of one gateway app (a private registry: no module globals)."""

from __future__ import annotations

from collections.abc import Mapping

from polyroute.exceptions import UpstreamError

_CIRCUIT_VALUE = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


class GatewayMetrics:
    """Counters, histograms and gauges; also the engine's observer (retries, fallbacks)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "polyroute_requests", "HTTP requests answered", ["route", "status", "model"], registry=r
        )
        self.latency = Histogram(
            "polyroute_request_duration_seconds",
            "Time to the last byte of the answer",
            ["route"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "polyroute_first_token_seconds",
            "Time to the first streamed byte",
            ["model"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.embedding = Histogram(
            "polyroute_embedding_seconds",
            "Time to embed a prompt for a learned profile",
            buckets=_BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "polyroute_routing_decisions",
            "Routing decisions",
            ["profile", "model", "strategy"],
            registry=r,
        )
        self.retries = Counter(
            "polyroute_upstream_retries", "Retries of upstream calls", ["model"], registry=r
        )
        self.fallbacks = Counter(
            "polyroute_fallbacks",
            "Fallbacks to the next model",
            ["from_model", "to_model"],
            registry=r,
        )
        self.failures = Counter(
            "polyroute_upstream_failures",
            "Failed upstream attempts",
            ["model", "deployment", "error"],
            registry=r,
        )
        self.circuit = Gauge(
            "polyroute_circuit_state",
            "Circuit state per deployment (0 closed, 1 half-open, 2 open)",
            ["deployment"],
            registry=r,
        )
        self.cost = Counter(
            "polyroute_estimated_cost_usd", "Estimated upstream cost (USD)", ["model"], registry=r
        )
        self.inflight = Gauge("polyroute_inflight_requests", "Requests being served", registry=r)
        self.stream_errors = Counter(
            "polyroute_stream_errors",
            "Streams ended by an error event after the first byte",
            ["model"],
            registry=r,
        )
        self.client_disconnects = Counter(
            "polyroute_client_disconnects",
            "Requests whose client left before the end of the answer (the upstream call is cancelled)",
            ["model"],
            registry=r,
        )

    # EngineObserver ---------------------------------------------------------------
    def on_retry(self, model: str, deployment: str, exc: UpstreamError) -> None:
        self.retries.labels(model).inc()

    def on_fallback(self, from_model: str, to_model: str) -> None:
        self.fallbacks.labels(from_model, to_model).inc()

    def on_attempt_failed(self, model: str, deployment: str, exc: UpstreamError) -> None:
        self.failures.labels(model, deployment, type(exc).__name__).inc()

    def on_embedding(self, seconds: float) -> None:
        self.embedding.observe(seconds)

    # scrape -----------------------------------------------------------------------
    def render(self, circuits: Mapping[str, str]) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        for name, state in circuits.items():
            self.circuit.labels(name).set(_CIRCUIT_VALUE.get(state, -1.0))
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
