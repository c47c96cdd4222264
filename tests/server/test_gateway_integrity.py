"""Pool integrity, admin input and readiness: no 500, no lost acknowledged write, no false ready."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH, running_gateway, settings_for

from polyroute.testing import FakeUpstream, FaultConfig

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}
AUTH = {"authorization": f"Bearer {CLIENT_KEY}"}


def _file_settings(upstreams: dict[str, list[str]], **extra: object):  # type: ignore[no-untyped-def]
    return settings_for(upstreams, server={"ephemeral_pool": False, "access_log": False}, **extra)


def test_deleted_pool_file_refuses_writes_and_reports_not_ready(
    tmp_path: Path, tiny_router, encoder
) -> None:
    db = tmp_path / "pool.sqlite3"
    with (
        FakeUpstream(lambda r: "ok") as up,
        running_gateway(
            _file_settings({"cheap": [up.base_url]}), tiny_router, encoder, pool_path=db
        ) as srv,
    ):
        admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
        assert admin.post("/admin/models", json={"name": "before"}).status_code == 201
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        resp = admin.post("/admin/models", json={"name": "after"})
        assert resp.status_code == 503, "a write to a deleted pool file was acknowledged"
        assert "deleted" in resp.json()["error"]["message"]
        ready = httpx.get(srv.url + "/readyz")
        assert ready.status_code == 503 and "deleted" in ready.json()["detail"]
        metrics = admin.get("/metrics").text
        assert "polyroute_pool_store_ok 0.0" in metrics
        chat = httpx.post(
            srv.url + "/v1/chat/completions",
            headers=AUTH,
            json={"model": "cheap", "messages": MATH},
        )
        assert chat.status_code == 200  # routing goes on from the last good snapshot


def test_corrupted_pool_file_gives_no_500_and_reports_not_ready(
    tmp_path: Path, tiny_router, encoder
) -> None:
    db = tmp_path / "pool.sqlite3"
    with (
        FakeUpstream(lambda r: "ok") as up,
        running_gateway(
            _file_settings({"cheap": [up.base_url]}), tiny_router, encoder, pool_path=db
        ) as srv,
    ):
        admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
        assert admin.post("/admin/models", json={"name": "before"}).status_code == 201
        size = db.stat().st_size
        with open(db, "r+b") as fh:  # same inode, garbage content
            fh.write(b"\x00garbage" * (size // 8))
        statuses = set()
        for i in range(10):
            statuses.add(
                httpx.post(
                    srv.url + "/v1/chat/completions",
                    headers=AUTH,
                    json={"model": "cheap", "messages": MATH},
                ).status_code
            )
            statuses.add(admin.get("/admin/pool").status_code)
            statuses.add(admin.post("/admin/models", json={"name": f"m{i}"}).status_code)
            statuses.add(httpx.get(srv.url + "/v1/models", headers=AUTH).status_code)
        assert 500 not in statuses and statuses <= {200, 503}
        ready = httpx.get(srv.url + "/readyz")
        assert ready.status_code == 503 and "corrupt" in ready.json()["detail"]


def test_infinite_cost_is_refused_and_models_stay_valid_json(gateway_factory) -> None:
    srv = gateway_factory({})
    admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
    body = b'{"name": "inf-model", "cost_per_query_usd": Infinity}'
    resp = admin.post("/admin/models", content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 400 and "cost_per_query_usd" in resp.json()["error"]["message"]
    nan = b'{"name": "nan-model", "input_cost_per_mtok": NaN}'
    assert admin.post("/admin/models", content=nan).status_code == 400
    listed = httpx.get(srv.url + "/v1/models", headers=AUTH)
    json.loads(listed.text, parse_constant=lambda c: pytest.fail(f"invalid JSON constant {c}"))


@pytest.mark.parametrize(
    "payload",
    [
        {"embeddings": "not a matrix", "scores": [1.0], "encoder": "hashing"},
        {"embeddings": [[1.0, 2.0], [3.0]], "scores": [1.0, 0.0], "encoder": "hashing"},
        {"embeddings": [[1.0, 2.0]], "scores": ["high"], "encoder": "hashing"},
        {"embeddings": [[1.0, 2.0]], "scores": [1.0]},
        {"prompts": "one prompt", "scores": [1.0]},
        {"prompts": [1, 2], "scores": [1.0, 0.0]},
        {"scores": {"a": 1}},
        {"embeddings": [[1.0]], "scores": [1.0], "encoder": "hashing", "extra": 1},
        # shapes the schema fuzz run sent (bench/bench_fuzz.py)
        {"embeddings": [[1.0, [2.0]]], "scores": [1.0], "encoder": "hashing"},
        {"embeddings": [["\U000f7e64"]], "scores": [1.0], "encoder": "hashing"},
        {"embeddings": [[{}]], "scores": [1.0], "encoder": "hashing"},
        {"embeddings": [[1.0]], "scores": [{}], "encoder": "hashing"},
        {"embeddings": [[1.0], [2.0]], "scores": [1.0], "encoder": "hashing"},
        {"embeddings": [[]], "scores": [1.0], "encoder": "hashing"},
    ],
)
def test_malformed_profile_payloads_get_400(gateway_factory, payload: dict[str, object]) -> None:
    srv = gateway_factory({})
    resp = httpx.post(srv.url + "/admin/models/cheap/profile", headers=ADMIN, json=payload)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["message"].startswith("invalid profile")


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b'{"name": "bp", "balancer_params": {"bogus": 1}}', ["takes no parameters", "bogus"]),
        (
            b'{"name": "bp", "balancer": "latency-ewma", "balancer_params": {"alphaa": 0.2}}',
            ["'alpha'", "'alphaa'"],
        ),
        (
            b'{"name": "bp", "balancer": "latency-ewma", "balancer_params": {"alpha": "fast"}}',
            ["alpha", "expected a finite number", "'fast'"],
        ),
        (
            b'{"name": "bp", "balancer": "latency-ewma", "balancer_params": {"alpha": 7}}',
            ["alpha", "(0, 1]", "7"],
        ),
        (
            b'{"name": "bp", "balancer": "latency-ewma", "balancer_params": {"alpha": NaN}}',
            ["alpha", "finite", "nan"],
        ),
        (
            b'{"name": "bp", "balancer": "consistent-hash", "balancer_params": {"vnodes": 0.5}}',
            ["vnodes", "integer", "0.5"],
        ),
        (b'{"name": "bp", "balancer": "random", "balancer_params": {"rng": 1}}', ["rng"]),
    ],
)
def test_bad_balancer_params_get_400_and_nothing_is_written(
    gateway_factory, body: bytes, fragments: list[str]
) -> None:
    with FakeUpstream(lambda r: "ok") as up:
        srv = gateway_factory({"cheap": [up.base_url]})
        admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
        before = admin.get("/admin/pool").json()
        for method, path in [("POST", "/admin/models"), ("PUT", "/admin/models/bp")]:
            resp = admin.request(method, path, content=body)
            assert resp.status_code == 400, resp.text
            err = resp.json()["error"]
            assert err["type"] == "invalid_request_error"
            assert "balancer_params" in err["message"], err["message"]
            for fragment in fragments:
                assert fragment in err["message"], err["message"]
        assert admin.get("/admin/pool").json() == before
        assert admin.get("/admin/models/bp").status_code == 404
        chat = httpx.post(
            srv.url + "/v1/chat/completions",
            headers=AUTH,
            json={"model": "cheap", "messages": MATH},
        )
        assert chat.status_code == 200
        good = b'{"name": "bp", "balancer": "latency-ewma", "balancer_params": {"alpha": 0.5}}'
        assert admin.post("/admin/models", content=good).status_code == 201


def test_resetting_an_unknown_circuit_is_404_without_a_phantom(gateway_factory) -> None:
    with FakeUpstream(lambda r: "ok") as up:
        srv = gateway_factory({"cheap": [up.base_url]})
        admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
        resp = admin.post(f"/admin/circuits/{quote('nope/ghost', safe='')}/reset")
        assert resp.status_code == 404 and "cheap/cheap-d0" in resp.json()["error"]["message"]
        assert "nope/ghost" not in admin.get("/admin/circuits").json()["circuits"]
        known = admin.post(f"/admin/circuits/{quote('cheap/cheap-d0', safe='')}/reset")
        assert known.status_code == 200


def test_readyz_is_not_ready_when_every_circuit_of_a_profile_is_open(gateway_factory) -> None:
    with FakeUpstream(faults=FaultConfig(error_rates={500: 1.0})) as dead:
        srv = gateway_factory(
            {m: [dead.base_url] for m in ("math-pro", "poet", "cheap")},
            circuit={"failure_threshold": 1, "reset_timeout_s": 60},
        )
        assert httpx.get(srv.url + "/readyz").status_code == 200
        for model in ("math-pro", "poet", "cheap"):
            httpx.post(
                srv.url + "/v1/chat/completions",
                headers=AUTH,
                json={"model": model, "messages": MATH},
            )
        ready = httpx.get(srv.url + "/readyz")
        assert ready.status_code == 503
        assert (
            "profile 'auto': no model has a closed or half-open circuit" in ready.json()["detail"]
        )


def test_embeddings_of_the_wrong_width_for_the_routers_encoder_get_400(
    gateway_factory, upstreams
) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    admin = httpx.Client(base_url=srv.url, headers=ADMIN, timeout=5.0)
    assert admin.post("/admin/models", json={"name": "newbie"}).status_code == 201
    by_prompts = admin.post(
        "/admin/models/newbie/profile", json={"prompts": ["a b"], "scores": [1.0]}
    )
    assert by_prompts.status_code == 201
    encoder = by_prompts.json()["encoder"]
    narrow = {"embeddings": [[1.0, 2.0]], "scores": [1.0], "encoder": encoder}
    resp = admin.post("/admin/models/newbie/profile", json=narrow)
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    assert "expected rows of" in message and "found 2" in message and encoder in message
    routed = httpx.post(
        srv.url + "/v1/route", headers=AUTH, json={"model": "auto", "messages": MATH}
    )
    assert routed.status_code == 200, routed.text  # the pool was not poisoned
    other = {"embeddings": [[1.0, 2.0]], "scores": [1.0], "encoder": "some-other-encoder"}
    assert admin.post("/admin/models/newbie/profile", json=other).status_code == 201
