"""``/readyz`` that tells the truth, and the store-health metrics.

Ready means this replica can serve: the pool store can be trusted (not deleted, corrupt or
unreachable), the engine has a router for every learned profile and a model in the pool, and every
profile has at least one model with a deployment whose circuit is closed or half-open. A shared
state store that is unreachable does not make the replica unready (it degrades to per-process
state by design); the body reports it. The body names every failed check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyroute.server._app import Gateway

#: The pool check touches the store (a file, or a database round trip): never wait longer.
POOL_CHECK_TIMEOUT_S = 1.0


async def readiness(gw: Gateway) -> tuple[bool, dict[str, Any]]:
    """``(ready, body)``; ``body["detail"]`` says why when not ready."""
    problems: list[str] = []
    try:
        pool_ok, why = await asyncio.wait_for(
            asyncio.to_thread(gw.pool.health), POOL_CHECK_TIMEOUT_S
        )
    except TimeoutError:
        pool_ok, why = (
            False,
            f"pool store {gw.pool.path} did not answer in {POOL_CHECK_TIMEOUT_S} s",
        )
    if not pool_ok:
        problems.append(f"pool store: {why}")
    engine_ok, engine_detail = gw.engine.ready()
    if not engine_ok:
        problems.append(engine_detail)
    problems.extend(_profiles_without_circuit(gw))
    state = gw.store.health()
    body: dict[str, Any] = {
        "status": "not_ready" if problems else "ready",
        "detail": "; ".join(problems) if problems else engine_detail,
        "checks": {
            "pool_store": "ok" if pool_ok else why,
            "engine": engine_detail,
            "shared_state": "ok" if state.available else f"degraded: {state.detail}",
        },
    }
    return not problems, body


def _profiles_without_circuit(gw: Gateway) -> Iterator[str]:
    """Profiles whose every deployed model has all its circuits open."""
    view = gw.engine.view()
    for name, profile in gw.engine.profiles.items():
        models = profile.candidates if profile.candidates is not None else list(view.routes)
        deployed = [m for m in models if m in view.routes and view.routes[m].deployments]
        if not deployed:
            continue  # nothing to call: the engine's own check covers an empty pool
        keys = [d.key for m in deployed for d in view.routes[m].deployments]
        if all(gw.engine.breakers.get(key).state == "open" for key in keys):
            yield (
                f"profile {name!r}: no model has a closed or half-open circuit "
                f"(open: {', '.join(keys)})"
            )


class StoreHealthCollector:
    """Prometheus collector: pool store and shared state health, read at scrape time."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        pool = GaugeMetricFamily(
            "polyroute_pool_store_ok",
            "1 when the pool store can be trusted, 0 when deleted, corrupt or unreachable",
        )
        pool.add_metric([], 1.0 if self._gw.pool.last_problem is None else 0.0)
        yield pool
        health = self._gw.store.health()
        up = GaugeMetricFamily(
            "polyroute_state_store_available",
            "1 when the shared state store answers, 0 while falling back to per-process state",
        )
        up.add_metric([], 1.0 if health.available else 0.0)
        yield up
        fallbacks = CounterMetricFamily(
            "polyroute_state_fallbacks",
            "State-store calls answered by the fallback policy, by kind",
            labels=["kind"],
        )
        for kind, n in sorted(health.fallbacks.items()):
            fallbacks.add_metric([kind], float(n))
        yield fallbacks
