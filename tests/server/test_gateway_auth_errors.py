"""Auth, request limits and the OpenAI error format, over real HTTP."""

from __future__ import annotations

import json
import logging

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, ENV, MATH, client, settings_for

from polyroute.gateway_config import GatewaySettings
from polyroute.server import create_app
from polyroute.testing import ServerThread

ROUTES = [
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/route"),
    ("GET", "/v1/models"),
    ("GET", "/metrics"),
    ("GET", "/admin/pool"),
    ("POST", "/admin/models"),
    ("DELETE", "/admin/models/cheap"),
    ("GET", "/v1/nope"),
]


def _assert_error(resp: httpx.Response, status: int, *, no_secret: bool = True) -> dict:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code"}
    assert "Traceback" not in resp.text
    if no_secret:
        assert CLIENT_KEY not in resp.text and ADMIN_KEY not in resp.text
    return body["error"]


def test_every_route_but_health_requires_a_key(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with httpx.Client(base_url=srv.url) as http:
        for method, path in ROUTES:
            resp = http.request(method, path, json={"model": "auto", "messages": MATH})
            err = _assert_error(resp, 401)
            assert err["type"] == "authentication_error", (method, path)
            bad = http.request(method, path, headers={"authorization": "Bearer wrong-key"})
            _assert_error(bad, 401)
        assert http.get("/healthz").status_code == 200
        assert http.get("/readyz").json()["status"] == "ready"


def test_admin_routes_refuse_client_keys_and_accept_the_admin_key(
    gateway_factory, upstreams
) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with httpx.Client(base_url=srv.url) as http:
        resp = http.get("/admin/pool", headers={"authorization": f"Bearer {CLIENT_KEY}"})
        assert _assert_error(resp, 403)["type"] == "permission_error"
        ok = http.get("/admin/pool", headers={"authorization": f"Bearer {ADMIN_KEY}"})
        assert ok.status_code == 200
        assert [m["name"] for m in ok.json()["models"]] == ["math-pro", "poet", "cheap"]


def test_models_listing_shows_profiles_and_models_but_no_endpoints(
    gateway_factory, upstreams
) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    ids = [m.id for m in client(srv).models.list().data]
    assert ids == ["auto", "math-pro", "poet", "cheap"]
    with httpx.Client(base_url=srv.url) as http:
        text = http.get("/v1/models", headers={"authorization": f"Bearer {CLIENT_KEY}"}).text
    assert "127.0.0.1" not in text and "base_url" not in text


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "malformed JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"model": "auto"}', "'messages'"),
        (b'{"model": 3, "messages": [{"role": "user", "content": "x"}]}', "'model'"),
        (b'{"model": "auto", "messages": ["hi"]}', "messages[0]"),
        (
            b'{"model": "auto", "stream": "yes", "messages": [{"role": "user", "content": "x"}]}',
            "'stream'",
        ),
    ],
)
def test_malformed_bodies_get_400(gateway_factory, upstreams, body, fragment) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    resp = httpx.post(
        srv.url + "/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}", "content-type": "application/json"},
    )
    err = _assert_error(resp, 400)
    assert fragment in err["message"]
    assert err["type"] == "invalid_request_error"


def test_unknown_model_or_profile_gets_404_with_the_valid_names(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    with pytest.raises(openai.NotFoundError) as info:
        client(srv).chat.completions.create(model="gpt-9", messages=MATH)
    assert "gpt-9" in str(info.value) and "math-pro" in str(info.value)
    resp = httpx.post(
        srv.url + "/v1/route",
        json={"model": "polyroute/nope", "messages": MATH},
        headers={"authorization": f"Bearer {CLIENT_KEY}"},
    )
    assert _assert_error(resp, 404)["code"] == "model_not_found"


def test_oversized_body_gets_413(gateway_factory, upstreams) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    big = [{"role": "user", "content": "x" * 10_000}]
    with pytest.raises(openai.APIStatusError) as info:
        client(srv).chat.completions.create(model="auto", messages=big)
    assert info.value.status_code == 413
    assert upstreams["math-pro"].stats["requests"] == 0


def test_rate_limit_gets_429_with_retry_after(gateway_factory, upstreams) -> None:
    srv = gateway_factory(
        {m: [u.base_url] for m, u in upstreams.items()},
        security={"rate_limit_rps": 0.5, "rate_limit_burst": 3},
    )
    c = client(srv)
    for _ in range(3):
        c.chat.completions.create(model="cheap", messages=MATH)
    with pytest.raises(openai.RateLimitError) as info:
        c.chat.completions.create(model="cheap", messages=MATH)
    assert int(info.value.response.headers["retry-after"]) >= 1
    assert upstreams["cheap"].stats["requests"] == 3


@pytest.mark.parametrize("how", ["body", "header"])
def test_cost_weight_outside_the_profile_range_gets_400(gateway_factory, upstreams, how) -> None:
    srv = gateway_factory({m: [u.base_url] for m, u in upstreams.items()})
    kwargs = (
        {"extra_body": {"polyroute": {"cost_weight": 5.0}}}
        if how == "body"
        else {"extra_headers": {"x-polyroute-cost-weight": "5"}}
    )
    with pytest.raises(openai.BadRequestError) as info:
        client(srv).chat.completions.create(model="auto", messages=MATH, **kwargs)
    assert "[0, 2]" in str(info.value)
    resp = httpx.post(
        srv.url + "/v1/route",
        json={"model": "auto", "messages": MATH},
        headers={
            "authorization": f"Bearer {CLIENT_KEY}",
            "x-polyroute-cost-weight": "cheap please",
        },
    )
    assert "expected a number" in _assert_error(resp, 400)["message"]


def test_model_without_deployments_gets_503_that_says_how_to_add_one(
    gateway_factory, upstreams
) -> None:
    srv = gateway_factory({"math-pro": [upstreams["math-pro"].base_url]})
    with pytest.raises(openai.APIStatusError) as info:
        client(srv).chat.completions.create(model="cheap", messages=MATH)
    assert info.value.status_code == 503
    assert "/admin/models/<model>/deployments" in str(info.value)


async def _echoing_401(scope, receive, send) -> None:
    """An upstream that rejects the key and echoes it back, as some providers do."""
    if scope["type"] != "http":
        return
    auth = dict(scope["headers"]).get(b"authorization", b"").decode()
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {auth}"}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_provider_keys_never_reach_clients_or_logs(tiny_router, encoder, caplog) -> None:
    provider_key = "sk-provider-SECRET-123"
    with ServerThread(_echoing_401, lifespan="off") as up:
        data = settings_for({"cheap": [up.url + "/v1"]}).model_dump(mode="python")
        data["models"][2]["deployments"][0]["api_key_env"] = "PROVIDER_KEY"
        data["server"]["access_log"] = True
        app = create_app(
            GatewaySettings.model_validate(data),
            environ={**ENV, "PROVIDER_KEY": provider_key},
            encoders={"hashing": encoder},
            routers={"auto": tiny_router},
        )
        caplog.set_level(logging.INFO)
        with (
            ServerThread(app) as srv,
            httpx.Client(
                base_url=srv.url, headers={"authorization": f"Bearer {CLIENT_KEY}"}
            ) as http,
        ):
            resp = http.post("/v1/chat/completions", json={"model": "cheap", "messages": MATH})
            listing = http.get("/v1/models").text
            pool = http.get("/admin/pool", headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert resp.status_code == 502
    assert "Incorrect API key provided: Bearer ***" in resp.json()["error"]["message"]
    for text in (resp.text, listing, pool.text, caplog.text):
        assert provider_key not in text and CLIENT_KEY not in text and ADMIN_KEY not in text
    assert '"client":"tester"' in caplog.text  # the access log names the key, never shows it
    assert "PROVIDER_KEY" in pool.text  # the admin sees which variable holds the key
