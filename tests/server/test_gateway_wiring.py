"""Through a real gateway (issue 11 items 1, 2 and 10): every JSON body goes through the one
body-parsing path, and a client that hangs up before the first byte cancels the upstream call."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH

from polyroute.testing import FakeUpstream, FaultConfig

# raw bytes: the openai client itself cannot encode a lone surrogate
DEEP = ("[" * 5_000 + "]" * 5_000).encode()
SURROGATE = b'{"model":"cheap","messages":[{"role":"user","content":"hi \\ud800"}]}'


def _assert_openai_400(resp: httpx.Response, expected: str) -> None:
    assert resp.status_code == 400, resp.text
    error = resp.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert expected in error["message"]
    assert "Traceback" not in resp.text


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("/v1/chat/completions", CLIENT_KEY),
        ("/v1/route", CLIENT_KEY),
        ("/admin/models", ADMIN_KEY),
    ],
)
def test_deep_nesting_and_lone_surrogates_are_400s_on_every_body(
    gateway_factory, path: str, key: str
) -> None:
    with FakeUpstream(lambda r: "answer from cheap") as up:
        srv = gateway_factory({"cheap": [up.base_url]}, security={"max_body_bytes": 65536})
        auth = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        with httpx.Client(base_url=srv.url, headers=auth, timeout=10) as http:
            _assert_openai_400(http.post(path, content=DEEP), "at most 64 levels")
            _assert_openai_400(http.post(path, content=SURROGATE), "lone UTF-16 surrogate")
        # the gateway keeps serving, and nothing reached the upstream
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        answer = c.chat.completions.create(model="cheap", messages=MATH)
        assert answer.choices[0].message.content == "answer from cheap"
        assert up.stats["requests"] == 1


def _post_then_hang_up(url: str, body: dict[str, object], after_s: float) -> None:
    """Send a chat POST on a raw socket, wait ``after_s`` without reading, and close."""
    parts = urlsplit(url)
    raw = json.dumps(body).encode()
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: {parts.netloc}\r\n"
        f"authorization: Bearer {CLIENT_KEY}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(raw)}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
        sock.sendall(head + raw)
        time.sleep(after_s)


@pytest.mark.parametrize("stream", [False, True])
def test_a_client_that_hangs_up_before_the_first_byte_cancels_the_upstream_call(
    gateway_factory, stream: bool
) -> None:
    with FakeUpstream(faults=FaultConfig(latency_s=5.0)) as up:
        srv = gateway_factory(
            {"cheap": [up.base_url]}, retry={"timeout_s": 30.0, "first_token_timeout_s": 30.0}
        )
        body = {"model": "cheap", "messages": MATH, "stream": stream}
        _post_then_hang_up(srv.url, body, after_s=0.5)
        deadline = time.monotonic() + 3.0  # well before the upstream's 5 s answer
        while up.stats["caller_hung_up"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert up.stats["requests"] == 1
        assert up.stats["caller_hung_up"] == 1  # the gateway closed its upstream connection
        metrics = httpx.get(
            srv.url + "/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        ).text
        answered = [line for line in metrics.splitlines() if line.startswith("polyroute_requests")]
        assert any('status="499"' in line for line in answered)  # logged, not a 500


def test_the_openapi_document_is_served_without_a_key(gateway_factory) -> None:
    with FakeUpstream() as up:
        srv = gateway_factory({"cheap": [up.base_url]})
        resp = httpx.get(srv.url + "/openapi.json")
        assert resp.status_code == 200
        assert resp.headers["content-type"] == "application/json"
        doc = resp.json()
        assert doc["openapi"].startswith("3.1")
        assert {"/v1/chat/completions", "/admin/models", "/openapi.json"} <= set(doc["paths"])
        # public schema; the admin API it describes still needs the admin key
        assert httpx.get(srv.url + "/admin/pool").status_code == 401
