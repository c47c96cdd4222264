"""Upstream fault run: 30% mixed upstream faults, nothing lost, no malformed 200, one POST per
counted attempt (issue 11).

Six FakeUpstreams (three models x two deployments) each fail 30% of their calls, mixed: 500,
429 with ``Retry-After``, connection resets after the request was read, hangs past the attempt
timeout, 200s with truncated or malformed JSON, and resets mid-body / mid-stream. The gateway
(``create_app`` on uvicorn, the native upstream client) serves a round-robin profile over the
three models with retries and fallback; the official ``openai`` client sends the requests (a
third streamed) at fixed concurrency. Every answer is classified:

- ``ok``: a 200 whose JSON (or whole stream) carries the upstream's answer;
- ``error_status``: an error status with an OpenAI error body (every attempt failed);
- ``stream_error``: a stream that ended in an SSE error event after its first chunk (a reset
  mid-stream: the gateway had already relayed bytes, so it signals instead of retrying);
- ``malformed_200``: a 200 whose body is not what it says (must be 0);
- ``lost``: no answer (client timeout or connection error; must be 0).

POSTs the upstreams received are compared with the attempts the gateway counted: failed attempts
(``polyroute_upstream_failures_total``) plus successful ones (one per 200).

    .venv/bin/python bench/bench_faults.py         # section "Upstream faults" of reliability.md
    .venv/bin/python bench/bench_faults.py --quick # 600 requests, no files
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai

from polyroute.gateway_config import GatewaySettings
from polyroute.server import create_app
from polyroute.testing import FakeUpstream, FaultConfig, ServerThread

ROOT = Path(__file__).resolve().parents[1]
CLIENT_KEY, ADMIN_KEY = "sk-bench-client", "sk-bench-admin"
MODELS = ("alpha", "beta", "gamma")
FAULTS: dict[str, Any] = {
    "error_rates": {500: 0.06, 429: 0.05},
    "reset_rate": 0.05,
    "slow_rate": 0.04,  # hangs: slow_s is far past the attempt timeout
    "truncated_json_rate": 0.04,
    "malformed_json_rate": 0.02,
    "reset_mid_body_rate": 0.04,
    "slow_s": 3.0,
    "retry_after_s": 0.05,
}
FAULT_KEYS = ("status_500", "status_429", "reset", "slow", "truncated_json", "malformed_json")
SECTION = "## Upstream faults (bench/bench_faults.py)"


def settings(upstreams: dict[str, list[str]]) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "server": {"ephemeral_pool": True, "access_log": False},
            "models": [
                {
                    "name": m,
                    "cost_per_query_usd": 0.001,
                    "deployments": [
                        {"name": f"{m}-d{i}", "base_url": u} for i, u in enumerate(upstreams[m])
                    ],
                }
                for m in MODELS
            ],
            "profiles": [{"name": "auto", "strategy": "round-robin", "candidates": list(MODELS)}],
            "retry": {
                "max_attempts": 3,
                "base_delay_s": 0.0,
                "max_delay_s": 0.02,
                "attempt_timeout_s": 1.0,
                "first_token_timeout_s": 1.0,
                "timeout_s": 20.0,
            },
            "circuit": {"failure_threshold": 20, "failure_rate": 0.8, "window": 40},
            "security": {"client_keys": [{"name": "bench", "env": "BENCH_CLIENT_KEY"}]},
        }
    )


async def send_all(base_url: str, n: int, concurrency: int) -> tuple[Counter[str], list[str]]:
    outcomes: Counter[str] = Counter()
    examples: list[str] = []
    sem = asyncio.Semaphore(concurrency)
    async with openai.AsyncOpenAI(
        base_url=base_url, api_key=CLIENT_KEY, max_retries=0, timeout=60.0
    ) as c:

        async def one(i: int) -> None:
            messages = [{"role": "user", "content": f"question number {i}"}]
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
                    good = re.fullmatch(rf"answer from \w+ to question number {i}", text)
                    kind = "ok" if good else "malformed_200"
                except openai.APIStatusError as exc:
                    body = exc.body if isinstance(exc.body, dict) else {}
                    kind = "error_status" if {"message", "type", "code"} <= set(body) else "lost"
                except (openai.APITimeoutError, openai.APIConnectionError):
                    kind = "lost"
                except openai.APIError as exc:  # an SSE error event inside a started stream
                    kind = "stream_error" if "stream" in str(exc).lower() or exc.body else "lost"
                except (ValueError, KeyError, TypeError):  # an unparsable 200
                    kind = "malformed_200"
                outcomes[kind] += 1
                if kind in ("lost", "malformed_200") and len(examples) < 5:
                    examples.append(f"request {i}: {kind}")

        await asyncio.gather(*(one(i) for i in range(n)))
    return outcomes, examples


def metric_sum(metrics: str, name: str, **labels: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items())
    )


def run(n: int, concurrency: int) -> dict[str, Any]:
    with ExitStack() as stack:
        ups = {
            m: [
                stack.enter_context(
                    FakeUpstream(
                        lambda r, m=m: f"answer from {m} to {r['messages'][-1]['content']}",
                        faults=FaultConfig(**FAULTS, seed=11 * j + k),
                    )
                )
                for k in range(2)
            ]
            for j, m in enumerate(MODELS)
        }
        app = create_app(
            settings({m: [u.base_url for u in us] for m, us in ups.items()}),
            environ={"BENCH_CLIENT_KEY": CLIENT_KEY, "POLYROUTE_ADMIN_KEY": ADMIN_KEY},
        )
        srv = stack.enter_context(ServerThread(app))
        started = time.monotonic()
        outcomes, examples = asyncio.run(send_all(srv.url + "/v1", n, concurrency))
        elapsed = time.monotonic() - started
        metrics = httpx.get(
            srv.url + "/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}
        ).text
        stats: Counter[str] = Counter()
        for us in ups.values():
            for u in us:
                stats.update(u.stats)
    route = "/v1/chat/completions"
    failed_attempts = metric_sum(metrics, "polyroute_upstream_failures_total")
    ok_attempts = metric_sum(metrics, "polyroute_requests_total", route=route, status="200")
    faults = {k: stats[k] for k in (*FAULT_KEYS, "reset_mid_body")}
    return {
        "requests": n,
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
        "outcomes": dict(outcomes),
        "lost": outcomes["lost"],
        "malformed_200": outcomes["malformed_200"],
        "examples": examples,
        "upstream_posts": stats["requests"],
        "upstream_faults": faults,
        "upstream_fault_rate": round(sum(faults.values()) / max(stats["requests"], 1), 3),
        "gateway_failed_attempts": int(failed_attempts),
        "gateway_ok_attempts": int(ok_attempts),
        "gateway_counted_attempts": int(failed_attempts + ok_attempts),
        "gateway_retries": int(metric_sum(metrics, "polyroute_upstream_retries_total")),
        "gateway_fallbacks": int(metric_sum(metrics, "polyroute_fallbacks_total")),
        "gateway_answers": int(metric_sum(metrics, "polyroute_requests_total", route=route)),
    }


def _configured() -> float:
    return float(sum(FAULTS["error_rates"].values())) + sum(
        v for k, v in FAULTS.items() if k.endswith("_rate")
    )


def write(result: dict[str, Any]) -> None:
    out = ROOT / "docs" / "results"
    result = {
        "command": ".venv/bin/python bench/bench_faults.py",
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "faults": {**FAULTS, "error_rates": {str(k): v for k, v in FAULTS["error_rates"].items()}},
        **result,
    }
    path_json = out / "reliability.json"
    data = json.loads(path_json.read_text()) if path_json.exists() else {}
    data["upstream_faults"] = result
    path_json.write_text(json.dumps(data, indent=2) + "\n")
    o = result["outcomes"]
    f = result["upstream_faults"]
    section = f"""{SECTION}

Command: `{result["command"]}` ({result["machine"]}, {result["date_utc"]} UTC, shared machine).

Six FakeUpstreams (3 models x 2 deployments), each configured to fail {_configured():.0%} of its
calls; realised {result["upstream_fault_rate"]:.1%} of {result["upstream_posts"]} POSTs:
{", ".join(f"{k} {v}" for k, v in f.items())} (hangs: {FAULTS["slow_s"]:g} s, past the 1 s attempt
timeout; `reset`: RST after the request was read; `reset_mid_body`: closed mid-body or after a
stream's first event). The gateway retries (3 attempts per model) and falls back over a
round-robin profile of the 3 models. {result["requests"]} requests at concurrency
{result["concurrency"]} (a third streamed) with the official `openai` client, in
{result["seconds"]} s.

| outcome | requests |
|---|---:|
| ok (200 carrying the upstream's answer) | {o.get("ok", 0)} |
| error status with an OpenAI error body | {o.get("error_status", 0)} |
| stream ended by an SSE error event (reset mid-stream) | {o.get("stream_error", 0)} |
| **malformed 200** | **{result["malformed_200"]}** |
| **lost** (no answer) | **{result["lost"]}** |

| POSTs received by the upstreams | attempts counted by the gateway (failed + succeeded) | retries | fallbacks |
|---:|---:|---:|---:|
| {result["upstream_posts"]} | {result["gateway_counted_attempts"]} ({result["gateway_failed_attempts"]} + {result["gateway_ok_attempts"]}) | {result["gateway_retries"]} | {result["gateway_fallbacks"]} |
"""
    path_md = out / "reliability.md"
    text = path_md.read_text() if path_md.exists() else "# Gateway reliability\n"
    if SECTION in text:  # replace this section only (others belong to other benchmarks)
        head, _, rest = text.partition(SECTION)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path_md.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--quick", action="store_true", help="600 requests, write no files")
    args = ap.parse_args()
    result = run(600 if args.quick else args.requests, args.concurrency)
    print(json.dumps(result, indent=2))
    ok = (
        result["lost"] == 0
        and result["malformed_200"] == 0
        and result["upstream_posts"] == result["gateway_counted_attempts"]
    )
    if not args.quick:
        write(result)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
