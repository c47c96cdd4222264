"""Through the gateway (issue 11 items 3 and 4): a POST the upstream read is never re-sent
behind the retry policy's back, and a 200 with a body that is not JSON is a failed attempt."""

from __future__ import annotations

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH

from polyroute.testing import FakeUpstream


def _metric(metrics: str, name: str, **labels: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


def _metrics(url: str) -> str:
    return httpx.get(url + "/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}).text


def test_max_attempts_1_means_one_post_even_on_a_reused_connection(gateway_factory) -> None:
    with FakeUpstream(lambda r: "answer from cheap") as up:
        srv = gateway_factory({"cheap": [up.base_url]}, retry={"max_attempts": 1})
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        up.script("ok", "reset")  # the 2nd request is read on the kept-alive connection, then RST
        c.chat.completions.create(model="cheap", messages=MATH)
        with pytest.raises(openai.APIStatusError) as info:
            c.chat.completions.create(model="cheap", messages=MATH)
        assert info.value.status_code == 502
        assert up.stats["requests"] == 2  # one POST per counted attempt: nothing billed twice
        failed = _metric(_metrics(srv.url), "polyroute_upstream_failures_total", model="cheap")
        assert failed == 1


def test_a_truncated_200_is_retried_and_counted_by_the_breaker(gateway_factory) -> None:
    with FakeUpstream(lambda r: "answer from cheap") as up:
        srv = gateway_factory(
            {"cheap": [up.base_url]},
            retry={"max_attempts": 2},
            circuit={"failure_threshold": 2, "reset_timeout_s": 60},
        )
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        up.script("truncated_json")
        answer = c.chat.completions.create(model="cheap", messages=MATH)
        assert answer.choices[0].message.content == "answer from cheap"
        up.script("truncated_json")
        stream = c.chat.completions.create(model="cheap", messages=MATH, stream=True)
        text = "".join(ch.choices[0].delta.content or "" for ch in stream if ch.choices)
        assert text == "answer from cheap"
        assert up.stats["requests"] == 4
        metrics = _metrics(srv.url)
        assert _metric(metrics, "polyroute_upstream_failures_total", model="cheap") == 2
        assert _metric(metrics, "polyroute_upstream_retries_total", model="cheap") == 2
        up.script("malformed_json", "malformed_json")  # every attempt malformed: 502, not 200
        with pytest.raises(openai.APIStatusError) as info:
            c.chat.completions.create(model="cheap", messages=MATH)
        assert info.value.status_code == 502
        admin = httpx.get(
            srv.url + "/admin/circuits", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        )
        assert admin.json()["circuits"]["cheap/cheap-d0"] == "open"  # the breaker counted them
