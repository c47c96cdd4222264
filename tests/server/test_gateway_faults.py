"""Fault tests: 30% of upstream calls fail (500, 429, timeouts, dropped connections); no request
is lost, the counts add up on both sides, and circuits open and close."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from contextlib import ExitStack

import httpx
import openai
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, MATH, MODELS, POEM

from polyroute.testing import FakeUpstream, FaultConfig

N_REQUESTS = 2000
CONCURRENCY = 32
FAULTS = {
    "error_rates": {500: 0.10, 429: 0.08},
    "slow_rate": 0.06,
    "slow_s": 1.0,
    "drop_connection_rate": 0.06,
    "retry_after_s": 0.01,
}  # 30% of calls fail


async def _send_all(base_url: str) -> tuple[Counter[str], int]:
    """Send N_REQUESTS (a third streamed) and classify each outcome."""
    outcomes: Counter[str] = Counter()
    malformed = 0
    sem = asyncio.Semaphore(CONCURRENCY)
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key=CLIENT_KEY, max_retries=0, timeout=30.0
    ) as c:

        async def one(i: int) -> None:
            nonlocal malformed
            messages = MATH if i % 2 else POEM
            async with sem:
                try:
                    if i % 3 == 0:
                        stream = await c.chat.completions.create(
                            model="auto", messages=messages, stream=True
                        )
                        text = "".join(
                            [ch.choices[0].delta.content or "" async for ch in stream if ch.choices]
                        )
                    else:
                        resp = await c.chat.completions.create(model="auto", messages=messages)
                        text = resp.choices[0].message.content or ""
                    outcomes["ok"] += 1
                    if not text.startswith("answer from "):
                        malformed += 1
                except openai.APIStatusError as exc:
                    body = exc.body if isinstance(exc.body, dict) else {}
                    if not {"message", "type", "code"} <= set(body):
                        malformed += 1
                    outcomes[f"http_{exc.status_code}"] += 1
                except openai.APIError:  # an error event inside a started stream
                    outcomes["stream_error"] += 1

        await asyncio.gather(*(one(i) for i in range(N_REQUESTS)))
    return outcomes, malformed


def _metric_sum(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_no_request_is_lost_when_30_percent_of_upstream_calls_fail(gateway_factory) -> None:
    with ExitStack() as stack:
        ups = {
            m: [
                stack.enter_context(
                    FakeUpstream(
                        lambda r, m=m: f"answer from {m}",
                        faults=FaultConfig(**FAULTS, seed=7 * j + k),
                    )
                )
                for k in range(2)
            ]
            for j, m in enumerate(MODELS)
        }
        srv = gateway_factory(
            {m: [u.base_url for u in us] for m, us in ups.items()},
            retry={
                "max_attempts": 2,
                "attempt_timeout_s": 0.25,
                "first_token_timeout_s": 0.25,
                "timeout_s": 5.0,
            },
            circuit={"failure_threshold": 50, "failure_rate": 1.0, "window": 50},
            security={"max_body_bytes": 65536},
        )
        started = time.monotonic()
        outcomes, malformed = asyncio.run(_send_all(srv.url + "/v1"))
        elapsed = time.monotonic() - started
        with httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {ADMIN_KEY}"}) as h:
            metrics = h.get("/metrics").text
        store = srv.app.gateway.store
        in_flight = {
            f"{m}/{m}-d{k}": store.get(f"inflight:{m}/{m}-d{k}") for m in MODELS for k in range(2)
        }
    assert set(in_flight.values()) == {0}, in_flight  # balancer hooks ran for every attempt
    upstream_calls = sum(u.stats["requests"] for us in ups.values() for u in us)
    upstream_failures = sum(
        u.stats[k]
        for us in ups.values()
        for u in us
        for k in ("status_500", "status_429", "slow", "drop")
    )
    assert sum(outcomes.values()) == N_REQUESTS, outcomes
    assert malformed == 0
    assert 0.25 < upstream_failures / upstream_calls < 0.35  # the injected 30%
    assert outcomes["ok"] >= 0.95 * N_REQUESTS, outcomes  # retries + fallback absorb the faults
    served = _metric_sum(metrics, "polyroute_requests_total", route="/v1/chat/completions")
    assert served == N_REQUESTS
    ok_server = _metric_sum(
        metrics, "polyroute_requests_total", route="/v1/chat/completions", status="200"
    )
    assert ok_server == outcomes["ok"] + outcomes["stream_error"]
    assert _metric_sum(metrics, "polyroute_upstream_retries_total") > 0
    print(
        f"\n{N_REQUESTS} requests in {elapsed:.1f}s: {dict(outcomes)}; "
        f"{upstream_calls} upstream calls, {upstream_failures} failed"
    )


def test_circuit_opens_on_a_dead_deployment_and_closes_after_recovery(gateway_factory) -> None:
    with (
        FakeUpstream(
            lambda r: "answer from dead", faults=FaultConfig(error_rates={500: 1.0})
        ) as dead,
        FakeUpstream(lambda r: "answer from live") as live,
    ):
        srv = gateway_factory(
            {"cheap": [dead.base_url, live.base_url]},
            circuit={"failure_threshold": 3, "reset_timeout_s": 0.5},
        )
        admin = httpx.Client(base_url=srv.url, headers={"authorization": f"Bearer {ADMIN_KEY}"})
        c = openai.OpenAI(base_url=srv.url + "/v1", api_key=CLIENT_KEY, max_retries=0)
        for _ in range(8):  # every request succeeds: retries move to the live deployment
            assert (
                c.chat.completions.create(model="cheap", messages=MATH).choices[0].message.content
                == "answer from live"
            )
        assert admin.get("/admin/circuits").json()["circuits"]["cheap/cheap-d0"] == "open"
        assert dead.stats["requests"] == 3  # no call reached it once the circuit opened
        gauge = re.search(
            r'polyroute_circuit_state\{deployment="cheap/cheap-d0"\} (\S+)',
            admin.get("/metrics").text,
        )
        assert gauge is not None and float(gauge.group(1)) == 2.0
        dead.set_faults(None)  # it recovers
        time.sleep(0.6)  # past reset_timeout_s: the next pick may probe it (real server, real time)
        answers = {
            c.chat.completions.create(model="cheap", messages=MATH).choices[0].message.content
            for _ in range(6)
        }
        assert "answer from dead" in answers
        assert admin.get("/admin/circuits").json()["circuits"]["cheap/cheap-d0"] == "closed"
        admin.close()
