"""One λ: ``polyroute route --cost-weight L`` and the gateway choose the same model for a prompt."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import httpx
import pytest
from gateway_helpers import CLIENT_KEY, MATH, POEM, settings_for

from polyroute.cli import main
from polyroute.routers import BaseRouter

PROMPTS = [MATH[0]["content"], POEM[0]["content"], "compute the integral of a poem"]
LAMBDAS = [0.0, 0.3, 0.6, 1.0, 2.0]


def _cli_choice(router_dir: Path, prompt: str, lam: float, costs: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "route",
                prompt,
                "--router-dir",
                str(router_dir),
                "--encoder",
                "hashing",
                "--costs",
                costs,
                "--cost-weight",
                str(lam),
                "--json",
            ]
        )
    assert code == 0
    return str(json.loads(out.getvalue())["model"])


def test_cli_and_gateway_make_the_same_choice_for_the_same_lambda(
    tmp_path: Path, gateway_factory, upstreams, tiny_router: BaseRouter
) -> None:
    tiny_router.save(tmp_path / "router")
    settings = settings_for({m: [u.base_url] for m, u in upstreams.items()})
    costs = ",".join(f"{m.name}={m.routing_cost_usd()}" for m in settings.models)
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    seen: set[str] = set()
    with httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {CLIENT_KEY}"}) as h:
        for prompt in PROMPTS:
            for lam in LAMBDAS:
                body = {
                    "model": "auto",
                    "messages": [{"role": "user", "content": prompt}],
                    "polyroute": {"cost_weight": lam},
                }
                gateway = h.post("/v1/route", json=body).json()["model"]
                assert _cli_choice(tmp_path / "router", prompt, lam, costs) == gateway, (
                    prompt,
                    lam,
                )
                seen.add(gateway)
    assert len(seen) >= 2  # the λ grid crosses at least one decision boundary


@pytest.mark.parametrize("lam", [0.5, 1.0])
def test_lambda_is_on_the_relative_scale_in_the_cli(
    tmp_path: Path, tiny_router: BaseRouter, lam: float
) -> None:
    """Costs in USD or in micro-USD give the same choice: only relative costs matter."""
    tiny_router.save(tmp_path / "router")
    usd = "math-pro=0.01,poet=0.005,cheap=0.0001"
    micro = "math-pro=10000,poet=5000,cheap=100"
    prompt = MATH[0]["content"]
    assert _cli_choice(tmp_path / "router", prompt, lam, usd) == _cli_choice(
        tmp_path / "router", prompt, lam, micro
    )
