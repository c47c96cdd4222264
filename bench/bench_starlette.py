"""Raw ASGI dispatch against starlette routing and Request/Response, on the gateway's routes.

Issue 9 asks for starlette unless it costs more than 2% of the gateway's added latency. Both
apps below do the same work per request (match the route, read the headers and the JSON body,
answer a JSON body with two extra headers) and are driven in-process by the same ASGI driver,
alternating in rounds, so only the framework layer differs:

- ``raw``: the gateway's own layer (``polyroute.server._http.Request``, the ``(method, path)``
  table of ``server/_app.py``, ``send_bytes``);
- ``starlette``: ``Starlette(routes=[Route(...), Mount("/admin", ...)])``, ``Request.body()``,
  ``Response``, with the gateway's 9 routes in the same order.

    .venv/bin/python bench/bench_starlette.py    # writes docs/results/starlette.{json,md}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BODY = json.dumps(
    {"model": "auto", "messages": [{"role": "user", "content": "What is 2 + 2? " * 20}]}
).encode()
ANSWER = json.dumps({"id": "x", "object": "chat.completion", "choices": []}).encode()
HEADERS = [
    (b"host", b"127.0.0.1:8000"),
    (b"content-type", b"application/json"),
    (b"authorization", b"Bearer sk-bench"),
    (b"content-length", str(len(BODY)).encode()),
    (b"user-agent", b"OpenAI/Python 1.0"),
    (b"accept", b"application/json"),
]


def _work(body: dict[str, Any], authorization: str | None) -> bytes:
    """The part both apps share (in the gateway: auth, decide, deliver)."""
    assert authorization and body["model"]
    return ANSWER


def raw_app() -> Any:
    from polyroute.server._http import Request, send_bytes, send_json

    async def chat(req: Request, send: Any) -> None:
        out = _work(req.json_object(), req.headers.get("authorization"))
        await send_bytes(
            send, 200, out, b"application/json", [(b"x-polyroute-model", b"m"), (b"x-r", b"r")]
        )

    async def other(req: Request, send: Any) -> None:
        await send_json(send, 200, {"ok": True})

    v1 = {("POST", "chat/completions"): chat, ("POST", "route"): other, ("GET", "models"): other}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        req = Request(scope)
        seg = req.segments
        if req.method == "GET" and seg in (["healthz"], ["readyz"], ["metrics"]):
            await other(req, send)
            return
        if seg[:1] == ["admin"]:
            await other(req, send)
            return
        handler = v1.get((req.method, "/".join(seg[1:]))) if seg[:1] == ["v1"] else None
        assert handler is not None
        await req.read_body(receive, 1 << 20)
        await handler(req, send)

    return app


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route

    async def chat(request: Request) -> Response:
        body = json.loads(await request.body())
        out = _work(body, request.headers.get("authorization"))
        return Response(
            out, media_type="application/json", headers={"x-polyroute-model": "m", "x-r": "r"}
        )

    async def other(request: Request) -> Response:
        return JSONResponse({"ok": True})

    admin = [
        Route("/models", other, methods=["GET", "POST"]),
        Route("/models/{name:path}", other, methods=["GET", "POST", "DELETE"]),
        Route("/circuits", other, methods=["GET"]),
    ]
    return Starlette(
        routes=[
            Route("/healthz", other, methods=["GET"]),
            Route("/readyz", other, methods=["GET"]),
            Route("/metrics", other, methods=["GET"]),
            Mount("/admin", routes=admin),
            Route("/v1/chat/completions", chat, methods=["POST"]),
            Route("/v1/route", other, methods=["POST"]),
            Route("/v1/models", other, methods=["GET"]),
        ]
    )


async def _call(app: Any) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat/completions",
        "raw_path": b"/v1/chat/completions",
        "query_string": b"",
        "root_path": "",
        "headers": HEADERS,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 200 and sent[-1]["body"] == ANSWER


async def _measure(apps: dict[str, Any], rounds: int, per_round: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            for _ in range(per_round):
                t0 = time.perf_counter()
                await _call(app)
                times[name].append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--per-round", type=int, default=100)
    ap.add_argument(
        "--added-ms",
        type=float,
        default=None,
        help="added p50 of pass-through to compare with (default: docs/results/gateway.json)",
    )
    args = ap.parse_args()
    import uvloop

    apps = {"raw": raw_app(), "starlette": starlette_app()}
    times = uvloop.run(_measure(apps, args.rounds, args.per_round))
    us = {name: np.array(t) * 1e6 for name, t in times.items()}
    added = args.added_ms
    source = "given with `--added-ms`"
    if added is None:
        source = "`docs/results/gateway.json`"
        gw = json.loads((ROOT / "docs" / "results" / "gateway.json").read_text())
        after = gw.get("after", gw)
        added = after["latency_concrete"]["added_p50_ms"]
    res: dict[str, Any] = {
        name: {
            "p50_us": round(float(np.median(v)), 2),
            "mean_us": round(float(v.mean()), 2),
            "p99_us": round(float(np.percentile(v, 99)), 2),
        }
        for name, v in us.items()
    }
    delta = res["starlette"]["p50_us"] - res["raw"]["p50_us"]
    res["starlette_minus_raw_p50_us"] = round(delta, 2)
    res["pass_through_added_p50_ms"] = added
    res["pass_through_added_source"] = source
    res["share_of_added_latency"] = round(delta / (added * 1000), 4)
    res["meta"] = {
        "command": " ".join([".venv/bin/python", "bench/bench_starlette.py", *sys.argv[1:]]),
        "requests_per_app": args.rounds * args.per_round,
        "machine": f"{os.cpu_count()} CPU cores, Python {platform.python_version()}",
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "starlette": __import__("starlette").__version__,
    }
    print(json.dumps(res, indent=1))
    out = ROOT / "docs" / "results"
    (out / "starlette.json").write_text(json.dumps(res, indent=1) + "\n")
    verdict = (
        "more than 2%: the gateway keeps its raw ASGI layer"
        if res["share_of_added_latency"] > 0.02
        else "at most 2%: starlette is cheap enough"
    )
    (out / "starlette.md").write_text(
        "\n".join(
            [
                "# Raw ASGI layer against starlette (issue 9: keep it only if starlette costs > 2%)",
                "",
                f"Command: `{res['meta']['command']}`  ",
                f"Machine: {res['meta']['machine']}; load average {res['meta']['loadavg']} (2 cores "
                f"shared with other jobs); starlette {res['meta']['starlette']}; "
                f"{res['meta']['date']}.",
                "",
                "Both apps route `POST /v1/chat/completions` among the gateway's 9 routes, read "
                "the headers and the JSON body and answer a JSON body with two headers; an "
                "in-process ASGI driver calls them on uvloop, alternating in rounds of "
                f"{args.per_round}, {res['meta']['requests_per_app']} calls each.",
                "",
                "| layer | p50 µs | mean µs | p99 µs |",
                "|---|---:|---:|---:|",
                *(
                    f"| {n} | {res[n]['p50_us']:.1f} | {res[n]['mean_us']:.1f} | "
                    f"{res[n]['p99_us']:.1f} |"
                    for n in ("raw", "starlette")
                ),
                "",
                f"starlette costs **{delta:.1f} µs** more per request at p50: "
                f"**{res['share_of_added_latency'] * 100:.1f}%** of the pass-through added latency "
                f"({added:.3f} ms p50, {source}), {verdict}.",
                "",
            ]
        )
    )


if __name__ == "__main__":
    main()
