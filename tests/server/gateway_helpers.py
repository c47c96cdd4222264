"""Helpers shared by the gateway tests (imported by their conftest and test modules)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openai

from polyroute.encoders import HashingEncoder
from polyroute.gateway_config import GatewaySettings
from polyroute.routers import BaseRouter
from polyroute.server import create_app
from polyroute.testing import ServerThread

CLIENT_KEY = "sk-client-test"
ADMIN_KEY = "sk-admin-test"
ENV = {"TEST_CLIENT_KEY": CLIENT_KEY, "POLYROUTE_ADMIN_KEY": ADMIN_KEY}
MODELS = ("math-pro", "poet", "cheap")
MATH = [{"role": "user", "content": "solve the equation x + 3 = 6 and compute the integral"}]
POEM = [{"role": "user", "content": "write a poem about the moon and the sea number 8"}]


def settings_for(upstreams: dict[str, list[str]], **extra: Any) -> GatewaySettings:
    """Settings with the three test models (deployments from ``upstreams``) and profile auto."""
    costs = {"math-pro": 0.01, "poet": 0.005, "cheap": 0.0001}
    models = [
        {
            "name": m,
            "cost_per_query_usd": costs[m],
            "input_cost_per_mtok": 1.0,
            "output_cost_per_mtok": 2.0,
            "deployments": [
                {"name": f"{m}-d{i}", "base_url": url} for i, url in enumerate(upstreams.get(m, []))
            ],
        }
        for m in MODELS
    ]
    data: dict[str, Any] = {
        "server": {"ephemeral_pool": True, "access_log": False},
        "models": models,
        "profiles": [
            {
                "name": "auto",
                "encoder": "hashing",
                "cost_weight": 0.0,
                "cost_weight_range": [0.0, 2.0],
            }
        ],
        "retry": {
            "max_attempts": 2,
            "base_delay_s": 0.0,
            "max_delay_s": 0.01,
            "timeout_s": 5.0,
            "first_token_timeout_s": 2.0,
        },
        "security": {
            "client_keys": [{"name": "tester", "env": "TEST_CLIENT_KEY"}],
            "max_body_bytes": 4096,
        },
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return GatewaySettings.model_validate(data)


@contextmanager
def running_gateway(
    settings: GatewaySettings,
    tiny_router: BaseRouter,
    encoder: HashingEncoder,
    *,
    pool_path: Path | None = None,
) -> Iterator[ServerThread]:
    app = create_app(
        settings,
        environ=ENV,
        encoders={"hashing": encoder},
        routers={p.name: tiny_router for p in settings.profiles if p.strategy == "learned"},
        pool_path=pool_path,
    )
    with ServerThread(app) as srv:
        yield srv


def client(srv: ServerThread, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0, timeout=10.0)
