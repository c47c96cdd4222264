"""Delivery: deployment choice, retries, circuit breakers and fallback across models.

For each model of the decision's order (at most the profile's ``max_models``): pick a deployment
with the model's balancer among those whose circuit admits calls, call it, and on a retryable
failure wait as the :class:`RetryPolicy` says (``Retry-After`` honoured) and try again, else fall
back to the next model. A client error (400, 413, 422) stops at once: no other model would
accept the request either. Streams fall back only before their first chunk; after it the
caller turns a failure into an SSE error event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.balancing import Balancer
from polyroute.engine._latency import ModelLatency
from polyroute.engine._upstream import Upstream, UpstreamResponse
from polyroute.exceptions import (
    AllAttemptsFailedError,
    CircuitOpenError,
    NoHealthyDeploymentError,
    UpstreamClientError,
    UpstreamError,
    UpstreamTimeout,
)
from polyroute.gateway_config import ModelSettings, RetrySettings
from polyroute.resilience import CircuitBreakerRegistry, RetryPolicy

logger = logging.getLogger(__name__)
#: Client-side errors: the request itself is wrong, so neither retry nor fallback can help.
FATAL_CLIENT_STATUSES = frozenset({400, 413, 422})


class EngineObserver(Protocol):
    """Receives delivery events and embedding times (the server turns them into metrics)."""

    def on_retry(self, model: str, deployment: str, exc: UpstreamError) -> None: ...
    def on_fallback(self, from_model: str, to_model: str) -> None: ...
    def on_attempt_failed(self, model: str, deployment: str, exc: UpstreamError) -> None: ...
    def on_embedding(self, seconds: float) -> None: ...


class NullObserver:
    """Ignores every event."""

    def on_retry(self, model: str, deployment: str, exc: UpstreamError) -> None:
        return None

    def on_fallback(self, from_model: str, to_model: str) -> None:
        return None

    def on_attempt_failed(self, model: str, deployment: str, exc: UpstreamError) -> None:
        return None

    def on_embedding(self, seconds: float) -> None:
        return None


@dataclass(frozen=True, slots=True)
class ModelRoute:
    """A pool model as delivery needs it: settings, deployments, balancer."""

    settings: ModelSettings
    deployments: tuple[Deployment, ...]
    balancer: Balancer

    @property
    def upstream_name(self) -> str:
        return self.settings.upstream_name or self.settings.name


@dataclass(frozen=True, slots=True)
class Completion:
    """A delivered non-streaming answer."""

    model: str
    deployment: str
    response: UpstreamResponse
    attempts: int


class StreamHandle:
    """A stream whose first chunk arrived; :meth:`chunks` yields everything and runs the hooks."""

    def __init__(
        self,
        model: str,
        dep: Deployment,
        stream: Any,
        finish: Callable[[BaseException | None, float | None], None],
        started: float,
        attempts: int,
    ) -> None:
        self.model = model
        self.deployment = dep.name
        self.stream = stream
        self.attempts = attempts
        self.ttft_s = time.monotonic() - started
        self._finish = finish
        self._finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        """First chunk then the rest; upstream failures raise :class:`UpstreamError`."""
        error: BaseException | None = None
        try:
            yield self.stream.first
            async for chunk in self.stream.rest():
                yield chunk
        except BaseException as exc:
            error = exc
            raise
        finally:
            await self._close(error)

    async def aclose(self) -> None:
        """Release the upstream stream if :meth:`chunks` was never run to its end."""
        await self._close(ConnectionAbortedError("stream closed before its end"))

    async def _close(self, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            await self.stream.aclose()
        finally:
            self._finish(error, self.ttft_s)


class Deliverer:
    """Runs the attempt loop of one request over a fixed set of models."""

    def __init__(
        self,
        *,
        upstream: Upstream,
        breakers: CircuitBreakerRegistry,
        retry: RetrySettings,
        policy: RetryPolicy,
        secret_lookup: Callable[[str | None], SecretStr | None],
        observer: EngineObserver | None = None,
    ) -> None:
        self.upstream = upstream
        self.breakers = breakers
        self.retry = retry
        self.policy = policy
        self.secret_lookup = secret_lookup
        self.observer: EngineObserver = observer or NullObserver()
        self.latency = ModelLatency()

    def _observe_latency(
        self, model: str, exc: BaseException | None, started: float, ttft: float | None
    ) -> None:
        """Per-model answer time for latency-aware profiles (a client hang-up is no sample)."""
        if exc is None:
            self.latency.observe(model, ttft if ttft is not None else time.monotonic() - started)
        elif isinstance(exc, UpstreamError) and not isinstance(exc, UpstreamClientError):
            self.latency.observe(model, None)

    # ------------------------------------------------------------------ public
    async def complete(
        self,
        order: Sequence[str],
        routes: Mapping[str, ModelRoute],
        body: dict[str, Any],
        *,
        key: str | None = None,
    ) -> Completion:
        """Deliver a non-streaming request; raises the client's error when every attempt fails."""
        result = await self._run(order, routes, body, key=key, stream=False)
        assert isinstance(result, Completion)
        return result

    async def stream(
        self,
        order: Sequence[str],
        routes: Mapping[str, ModelRoute],
        body: dict[str, Any],
        *,
        key: str | None = None,
    ) -> StreamHandle:
        """Open a stream (first chunk received) with retries and fallback before it."""
        result = await self._run(order, routes, body, key=key, stream=True)
        assert isinstance(result, StreamHandle)
        return result

    # ------------------------------------------------------------------ attempt loop
    async def _run(
        self,
        order: Sequence[str],
        routes: Mapping[str, ModelRoute],
        body: dict[str, Any],
        *,
        key: str | None,
        stream: bool,
    ) -> Completion | StreamHandle:
        deadline = time.monotonic() + self.retry.timeout_s
        failures: list[UpstreamError] = []
        served = [m for m in order if m in routes and routes[m].deployments]
        if not served:
            raise NoHealthyDeploymentError(
                f"no deployment configured for {', '.join(order) or 'any model'}; add one in the "
                "config (models[].deployments) or with POST /admin/models/<model>/deployments"
            )
        previous: str | None = None
        for model in served:
            if previous is not None:
                self.observer.on_fallback(previous, model)
            previous = model
            result = await self._try_model(routes[model], body, key, stream, deadline, failures)
            if result is not None:
                return result
            if time.monotonic() >= deadline:
                break
        raise AllAttemptsFailedError(
            f"all {len(failures)} attempt(s) failed over model(s) {', '.join(served)}; last: "
            f"{failures[-1] if failures else 'none'}",
            attempts=failures,
        )

    async def _try_model(
        self,
        route: ModelRoute,
        body: dict[str, Any],
        key: str | None,
        stream: bool,
        deadline: float,
        failures: list[UpstreamError],
    ) -> Completion | StreamHandle | None:
        payload = _encode_body(body, route.upstream_name)
        tried: set[str] = set()
        attempt = 0
        while True:
            attempt += 1
            dep = self._pick(route, key, tried)
            if isinstance(dep, UpstreamError):
                failures.append(dep)
                return None
            tried.add(dep.name)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                failures.append(
                    UpstreamTimeout(
                        "total timeout reached before the call",
                        model=dep.model,
                        deployment=dep.name,
                    )
                )
                return None
            if self.retry.attempt_timeout_s is not None and not stream:
                remaining = min(remaining, self.retry.attempt_timeout_s)
            try:
                return await self._call(route, dep, payload, stream, remaining, attempt)
            except UpstreamError as exc:
                failures.append(exc)
                self.observer.on_attempt_failed(dep.model, dep.name, exc)
                if (
                    isinstance(exc, UpstreamClientError)
                    and exc.status_code in FATAL_CLIENT_STATUSES
                ):
                    raise
                delay = self.policy.delay_s(attempt, exc)
                if delay is None or time.monotonic() + delay >= deadline:
                    return None
                self.observer.on_retry(dep.model, dep.name, exc)
                if delay > 0:
                    await asyncio.sleep(delay)

    def _pick(
        self, route: ModelRoute, key: str | None, tried: set[str]
    ) -> Deployment | UpstreamError:
        healthy = [d for d in route.deployments if self.breakers.get(d.key).available()]
        fresh = [d for d in healthy if d.name not in tried] or healthy
        while fresh:
            try:
                dep = route.balancer.choose(fresh, key=key)
            except NoHealthyDeploymentError as exc:
                return CircuitOpenError(str(exc), model=route.settings.name)
            if self.breakers.get(dep.key).allow():
                return dep
            fresh = [d for d in fresh if d is not dep]
        return CircuitOpenError(
            f"every deployment of model {route.settings.name!r} has an open circuit "
            f"({len(route.deployments)} configured)",
            model=route.settings.name,
        )

    async def _call(
        self,
        route: ModelRoute,
        dep: Deployment,
        payload: bytes,
        stream: bool,
        remaining: float,
        attempt: int,
    ) -> Completion | StreamHandle:
        api_key = self.secret_lookup(dep.api_key_env)
        breaker = self.breakers.get(dep.key)
        started = time.monotonic()
        route.balancer.on_start(dep)
        try:
            if stream:
                opened = await self.upstream.open_stream(
                    dep,
                    api_key,
                    payload,
                    timeout_s=remaining,
                    first_token_timeout_s=self.retry.first_token_timeout_s,
                )
            else:
                response = await self.upstream.post(dep, api_key, payload, timeout_s=remaining)
        except BaseException as exc:  # every outcome, cancellation included, reaches the hooks
            _record(route.balancer, breaker, dep, exc, started, None)
            self._observe_latency(route.settings.name, exc, started, None)
            raise
        if stream:  # the handle runs the end-of-call hooks when the stream ends or is closed

            def finish(exc: BaseException | None, ttft: float | None) -> None:
                _record(route.balancer, breaker, dep, exc, started, ttft)
                self._observe_latency(route.settings.name, exc, started, ttft)

            return StreamHandle(route.settings.name, dep, opened, finish, started, attempt)
        _record(route.balancer, breaker, dep, None, started, None)
        self._observe_latency(route.settings.name, None, started, None)
        return Completion(route.settings.name, dep.name, response, attempt)


def _record(
    balancer: Balancer,
    breaker: Any,
    dep: Deployment,
    exc: BaseException | None,
    started: float,
    ttft: float | None,
) -> None:
    """Balancer hook and circuit outcome of one finished call."""
    if exc is None:
        balancer.on_success(dep, time.monotonic() - started, ttft_s=ttft)
        breaker.record_success()
        return
    balancer.on_failure(dep, exc)
    if isinstance(exc, UpstreamError) and not isinstance(exc, UpstreamClientError):
        breaker.record_failure()
    elif isinstance(exc, UpstreamClientError) and exc.status_code in (401, 403):
        breaker.record_failure()  # a misconfigured key makes the deployment unusable


def _encode_body(body: dict[str, Any], upstream_model: str) -> bytes:
    out = dict(body)
    out["model"] = upstream_model
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()
