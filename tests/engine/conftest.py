"""Engine fixtures: a tiny two-cluster router on hashing embeddings and an engine factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from polyroute.encoders import HashingEncoder
from polyroute.engine import HttpxUpstream, RoutingEngine
from polyroute.gateway_config import GatewaySettings
from polyroute.pool import ModelPool
from polyroute.routers import BaseRouter, make_router
from polyroute.state import InMemoryStateStore

MODELS = ("math-pro", "poet", "cheap")


@pytest.fixture(scope="session")
def hashing() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(scope="session")
def router(hashing: HashingEncoder) -> BaseRouter:
    prompts = [
        f"solve the equation x + {i} = 7 and compute the integral"
        if i % 2
        else f"write a poem about the moon number {i}"
        for i in range(100)
    ]
    y = np.array([i % 2 for i in range(100)], dtype=float)
    Y = np.stack([y, 1 - y, np.full(100, 0.4)], axis=1)
    return make_router("uniroute-kmeans", n_clusters=2, random_state=0).fit(
        hashing.encode(prompts), Y, model_names=list(MODELS)
    )


@pytest.fixture
def make_engine(
    router: BaseRouter, hashing: HashingEncoder
) -> Iterator[Callable[..., RoutingEngine]]:
    engines: list[RoutingEngine] = []

    def factory(
        deployments: dict[str, list[str]] | None = None,
        encoders: dict[str, Any] | None = None,
        **extra: Any,
    ) -> RoutingEngine:
        deployments = deployments or {}
        costs = {"math-pro": 0.01, "poet": 0.005, "cheap": 0.0001}
        data: dict[str, Any] = {
            "models": [
                {
                    "name": m,
                    "cost_per_query_usd": costs[m],
                    "deployments": [
                        {"name": f"d{i}", "base_url": u}
                        for i, u in enumerate(deployments.get(m, []))
                    ],
                }
                for m in MODELS
            ],
            "profiles": [
                {
                    "name": "auto",
                    "encoder": "hashing",
                    "cost_weight": 0.0,
                    "cost_weight_range": [0.0, 2.0],
                }
            ],
            "retry": {"max_attempts": 2, "base_delay_s": 0.0, "timeout_s": 5.0},
            **extra,
        }
        settings = GatewaySettings.model_validate(data)
        store = InMemoryStateStore()
        pool = ModelPool(":memory:", store=store)
        pool.seed(settings.models)
        engine = RoutingEngine(
            settings,
            pool,
            store=store,
            upstream=HttpxUpstream(),
            secret_lookup=lambda name: None,
            encoders={"hashing": hashing, **(encoders or {})},
            # the fixture router serves every learned profile
            routers={p.name: router for p in settings.profiles if p.strategy == "learned"},
        )
        engine.start()
        engines.append(engine)
        return engine

    yield factory
    for engine in engines:
        engine.close()
