"""Admin API: pool changes take effect without a restart and survive one (SQLite)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH, client, running_gateway, settings_for

from polyroute.testing import FakeUpstream

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _file_settings(upstreams: dict[str, list[str]]):
    s = settings_for(upstreams)
    return s.model_copy(update={"server": s.server.model_copy(update={"ephemeral_pool": False})})


def test_admin_changes_apply_at_once_and_survive_a_restart(
    tmp_path: Path, tiny_router, encoder
) -> None:
    db = tmp_path / "pool.sqlite3"
    with FakeUpstream(lambda r: "answer from newcomer") as up:
        settings = _file_settings({})
        with running_gateway(settings, tiny_router, encoder, pool_path=db) as srv:
            admin = httpx.Client(base_url=srv.url, headers=ADMIN)
            c = client(srv)
            with pytest.raises(openai.NotFoundError):
                c.chat.completions.create(model="vendor/newcomer", messages=MATH)
            created = admin.post(
                "/admin/models",
                json={
                    "name": "vendor/newcomer",
                    "cost_per_query_usd": 0.002,
                    "deployments": [{"name": "eu", "base_url": up.base_url}],
                },
            )
            assert created.status_code == 201
            raw = c.chat.completions.with_raw_response.create(
                model="vendor/newcomer", messages=MATH
            )
            assert raw.headers["x-polyroute-deployment"] == "eu"
            assert raw.parse().choices[0].message.content == "answer from newcomer"
            # deployments of an existing model, by URL-encoded name
            path = f"/admin/models/{quote('vendor/newcomer', safe='')}/deployments"
            assert (
                admin.post(
                    path, json={"name": "us", "base_url": up.base_url, "weight": 2}
                ).status_code
                == 201
            )
            removed = admin.delete(f"/admin/models/{quote('cheap', safe='')}")
            assert removed.status_code == 200 and removed.json()["removed"] is True
            with pytest.raises(openai.NotFoundError):
                c.chat.completions.create(model="cheap", messages=MATH)
            bad = admin.post(
                "/admin/models",
                json={"name": "x", "deployments": [{"name": "d", "base_url": "ftp://nowhere"}]},
            )
            assert bad.status_code == 400 and "base_url" in bad.json()["error"]["message"]
            admin.close()
        # restart on the same SQLite file: the pool is the database's, not the config's
        with running_gateway(settings, tiny_router, encoder, pool_path=db) as srv:
            pool = httpx.get(srv.url + "/admin/pool", headers=ADMIN).json()
            names = [m["name"] for m in pool["models"]]
            assert names == ["math-pro", "poet", "vendor/newcomer"]
            deps = {d["name"]: d["weight"] for d in pool["models"][2]["deployments"]}
            assert deps == {"eu": 1.0, "us": 2.0}
            answer = client(srv).chat.completions.create(model="vendor/newcomer", messages=MATH)
            assert answer.choices[0].message.content == "answer from newcomer"


def test_onboarded_profile_joins_the_learned_router_without_restart(
    gateway_factory, upstreams
) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    admin = httpx.Client(base_url=srv.url, headers=ADMIN)
    auth = {"authorization": f"Bearer {CLIENT_KEY}"}
    with FakeUpstream(lambda r: "answer from mathematician") as up:
        admin.post(
            "/admin/models",
            json={
                "name": "mathematician",
                "cost_per_query_usd": 0.001,
                "deployments": [{"name": "d", "base_url": up.base_url}],
            },
        )
        before = httpx.post(
            srv.url + "/v1/route", headers=auth, json={"model": "auto", "messages": MATH}
        ).json()
        assert "mathematician" not in [c["model"] for c in before["candidates"]]
        prompts = [
            f"solve the equation x + {i} = {3 * i} and compute the integral" for i in range(30)
        ] + [f"write a poem about the moon number {i}" for i in range(30)]
        scores = [1.0] * 30 + [0.0] * 30
        resp = admin.post(
            "/admin/models/mathematician/profile", json={"prompts": prompts, "scores": scores}
        )
        assert resp.status_code == 201 and resp.json()["n_prompts"] == 60
        after = httpx.post(
            srv.url + "/v1/route",
            headers=auth,
            json={"model": "auto", "messages": MATH, "polyroute": {"cost_weight": 0.5}},
        ).json()
        quality = {c["model"]: c["predicted_quality"] for c in after["candidates"]}
        assert quality["mathematician"] > 0.9 > quality["poet"]
        assert after["model"] == "mathematician"  # nearly as good as math-pro on math, cheaper
        models = client(srv).models.list().data
        assert models[0].model_extra["polyroute"]["onboarded"] == ["mathematician"]
        mismatch = admin.post(
            "/admin/models/mathematician/profile", json={"prompts": prompts, "scores": [1.0]}
        )
        assert mismatch.status_code == 400 and "60 numbers" in mismatch.json()["error"]["message"]
    admin.close()
