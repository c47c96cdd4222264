"""Redis killed, and Redis stalled (SIGSTOP), for 10 s each under load: does the gateway answer?

Processes: a real ``redis-server`` (the gateway's shared state: rate limits, circuits, in-flight
counts, pool notifications), a FakeUpstream, the gateway (``polyroute serve``, one worker), a
``/healthz`` prober (blocking keep-alive client, one request every 10 ms) and the load generator
(this process: ``httpx`` with ``--concurrency`` requests in flight, each one authenticated and
rate-limited, so every request touches Redis). Timeline: baseline, Redis killed for ``--fault-s``
then restarted, steady, Redis stalled for ``--fault-s`` then resumed, steady. Recovery = time from
Redis returning until ``/readyz`` reports the shared state ``ok`` again (polled every 20 ms).

    .venv/bin/python bench/bench_redis_faults.py          # writes docs/results/reliability_redis.json
                                                          # and its section of reliability.md
    .venv/bin/python bench/bench_redis_faults.py --quick  # 3 s faults, no files
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from polyroute.testing import FakeUpstream, RedisServer
from polyroute.testing._redis import free_port

ROOT = Path(__file__).resolve().parents[1]
KEY, ADMIN_KEY = "sk-bench", "sk-bench-admin"
START, END = "<!-- redis-faults:start -->", "<!-- redis-faults:end -->"


def _upstream_process(conn: Connection) -> None:
    with FakeUpstream(lambda r: "ok") as up:
        conn.send(up.base_url)
        conn.recv()  # until told to stop


def _prober_process(port: int, conn: Connection) -> None:
    """GET /healthz every 10 ms; send back (wall time, latency s or None on error) pairs."""
    samples: list[tuple[float, float | None]] = []
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    conn.send("ready")
    while not conn.poll():
        started = time.perf_counter()
        try:
            client.request("GET", "/healthz")
            client.getresponse().read()
            samples.append((time.time(), time.perf_counter() - started))
        except (OSError, http.client.HTTPException):
            samples.append((time.time(), None))
            client.close()
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
        time.sleep(max(0.0, 0.01 - (time.perf_counter() - started)))
    conn.send(samples)


def _start_gateway(
    workdir: Path, redis_url: str, upstream: str
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    (workdir / "gateway.yaml").write_text(
        json.dumps(
            {
                "server": {"port": port, "state_url": redis_url, "access_log": False},
                "security": {"rate_limit_rps": 1e6, "rate_limit_burst": 1_000_000},
                "models": [
                    {
                        "name": "cheap",
                        "cost_per_query_usd": 0.001,
                        "deployments": [{"name": "d0", "base_url": upstream}],
                    }
                ],
                "profiles": [{"name": "rr", "strategy": "round-robin", "candidates": ["cheap"]}],
            }
        )
    )
    env = {
        **os.environ,
        "POLYROUTE_CACHE_DIR": str(workdir / "cache"),
        "POLYROUTE_API_KEY": KEY,
        "POLYROUTE_ADMIN_KEY": ADMIN_KEY,
        "PYTHONPATH": str(ROOT / "src"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "polyroute.cli", "serve", "--config", str(workdir / "gateway.yaml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/readyz", timeout=1.0).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.1)  # waiting for a subprocess to start
    proc.kill()
    raise RuntimeError("the gateway did not become ready")


async def _load(url: str, concurrency: int, stop: asyncio.Event, log: list[Any]) -> None:
    body = {"model": "cheap", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=5.0, limits=limits) as client:

        async def worker() -> None:
            while not stop.is_set():
                started = time.time()
                try:
                    resp = await client.post("/v1/chat/completions", json=body, headers=headers)
                    log.append((started, resp.status_code, time.time() - started))
                except httpx.HTTPError:
                    log.append((started, "error", time.time() - started))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _shared_state_ok(url: str) -> bool:
    async with httpx.AsyncClient(timeout=1.0) as client:
        resp = await client.get(url + "/readyz")
        return bool(resp.json()["checks"]["shared_state"] == "ok")


async def _scenario(
    url: str, redis: RedisServer, concurrency: int, fault_s: float, steady_s: float
) -> dict[str, Any]:
    stop = asyncio.Event()
    log: list[Any] = []
    load = asyncio.create_task(_load(url, concurrency, stop, log))
    marks: dict[str, float] = {"baseline": time.time()}
    await asyncio.sleep(steady_s)
    recovery: dict[str, float] = {}
    for fault in ("killed", "stalled"):
        marks[fault] = time.time()
        if fault == "killed":
            redis.kill()
        else:
            redis.pause()
        await asyncio.sleep(fault_s)
        returned = time.time()
        if fault == "killed":
            redis.start()
        else:
            redis.resume()
        while not await _shared_state_ok(url):
            if time.time() - returned > 30:
                break
            await asyncio.sleep(0.02)
        recovery[fault] = time.time() - returned
        marks[f"after {fault}"] = time.time()
        await asyncio.sleep(steady_s)
    marks["end"] = time.time()
    stop.set()
    await load
    return {"log": log, "marks": marks, "recovery_s": recovery}


def _phase_stats(
    log: list[Any], probes: list[tuple[float, float | None]], start: float, end: float
) -> dict[str, Any]:
    reqs = [r for r in log if start <= r[0] < end]
    statuses: dict[str, int] = {}
    for _, status, _ in reqs:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    lat = np.array([r[2] for r in reqs if r[1] == 200]) * 1000
    ok_probes = np.array([p[1] for p in probes if start <= p[0] < end and p[1] is not None]) * 1000
    failed_probes = sum(1 for p in probes if start <= p[0] < end and p[1] is None)
    return {
        "seconds": round(end - start, 2),
        "requests": len(reqs),
        "statuses": statuses,
        "chat_p50_ms": round(float(np.percentile(lat, 50)), 2) if lat.size else None,
        "chat_p99_ms": round(float(np.percentile(lat, 99)), 2) if lat.size else None,
        "healthz_probes": int(ok_probes.size),
        "healthz_failed": failed_probes,
        "healthz_p50_ms": round(float(np.percentile(ok_probes, 50)), 2) if ok_probes.size else None,
        "healthz_p99_ms": round(float(np.percentile(ok_probes, 99)), 2) if ok_probes.size else None,
        "healthz_max_ms": round(float(ok_probes.max()), 2) if ok_probes.size else None,
        "slowest_chat": [
            (round(r[0] - start, 2), round(r[2] * 1000))
            for r in sorted(reqs, key=lambda r: -r[2])[:3]
        ],
    }


def run(concurrency: int, fault_s: float, steady_s: float) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    up_parent, up_child = ctx.Pipe()
    upstream = ctx.Process(target=_upstream_process, args=(up_child,), daemon=True)
    upstream.start()
    upstream_url = up_parent.recv()
    with RedisServer() as redis, tempfile.TemporaryDirectory() as tmp:
        gateway, url = _start_gateway(Path(tmp), redis.url, upstream_url)
        port = int(url.rsplit(":", 1)[1])
        pr_parent, pr_child = ctx.Pipe()
        prober = ctx.Process(target=_prober_process, args=(port, pr_child), daemon=True)
        prober.start()
        try:
            assert pr_parent.recv() == "ready"
            result = asyncio.run(_scenario(url, redis, concurrency, fault_s, steady_s))
            metrics = httpx.get(
                url + "/metrics", headers={"authorization": f"Bearer {ADMIN_KEY}"}
            ).text
        finally:
            pr_parent.send("stop")
            probes = pr_parent.recv()
            prober.join(timeout=5)
            gateway.terminate()
            gateway.wait(timeout=20)
    up_parent.send("stop")
    upstream.join(timeout=5)
    m = result["marks"]
    edges = [
        ("baseline", m["baseline"], m["killed"]),
        ("redis killed", m["killed"], m["killed"] + fault_s),
        ("after restart", m["after killed"], m["stalled"]),
        ("redis stalled", m["stalled"], m["stalled"] + fault_s),
        ("after resume", m["after stalled"], m["end"]),
    ]
    fallbacks = {
        line.split('kind="')[1].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("polyroute_state_fallbacks_total{")
    }
    return {
        "command": "python bench/bench_redis_faults.py",
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}",
        "load_average_1m_at_end": round(os.getloadavg()[0], 1),
        "concurrency": concurrency,
        "fault_s": fault_s,
        "phases": {name: _phase_stats(result["log"], probes, a, b) for name, a, b in edges},
        "recovery_s": {k: round(v, 3) for k, v in result["recovery_s"].items()},
        "fallbacks_at_end": fallbacks,
    }


def _markdown(res: dict[str, Any]) -> str:
    rows = [
        "| phase | s | requests | statuses | chat p50 / p99 ms | /healthz probes (failed) "
        "| /healthz p50 / p99 / max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in res["phases"].items():
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(p["statuses"].items()))
        rows.append(
            f"| {name} | {p['seconds']} | {p['requests']} | {statuses} | "
            f"{p['chat_p50_ms']} / {p['chat_p99_ms']} | {p['healthz_probes']} "
            f"({p['healthz_failed']}) | {p['healthz_p50_ms']} / {p['healthz_p99_ms']} / "
            f"{p['healthz_max_ms']} |"
        )
    rec = res["recovery_s"]
    return "\n".join(
        [
            START,
            "## Redis killed and Redis stalled under load (bench/bench_redis_faults.py)",
            "",
            f"Command: `{res['command']}` ({res['machine']}; gateway, upstream, redis-server, "
            f"prober and load generator share the machine). Concurrency {res['concurrency']}, "
            f"each fault {res['fault_s']} s. Every request is authenticated and rate-limited "
            "through Redis; circuits and in-flight counts live there too.",
            "",
            *rows,
            "",
            f"Recovery (Redis back until `/readyz` reports the shared state `ok`): after the kill "
            f"{rec['killed']} s, after the stall {rec['stalled']} s. Fallbacks served while Redis "
            f"was unavailable: {res['fallbacks_at_end']}. Load average at the end of the run: "
            f"{res['load_average_1m_at_end']} (a shared machine: compare phases within this run).",
            "",
            "While Redis answers, a request's circuit and in-flight-count calls each wait for a "
            "Redis round trip on the gateway's event loop (the engine calls the StateStore "
            "synchronously; each wait is bounded by `server.state_timeout_s`), and that time is in "
            "the baseline and recovered phases; while Redis is unavailable those calls are "
            "per-process and wait for nothing, and rate-limit checks never block the loop.",
            END,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--fault-s", type=float, default=10.0)
    parser.add_argument("--steady-s", type=float, default=5.0)
    parser.add_argument("--quick", action="store_true", help="3 s faults, no files")
    args = parser.parse_args()
    if args.quick:
        args.fault_s, args.steady_s = 3.0, 2.0
    res = run(args.concurrency, args.fault_s, args.steady_s)
    section = _markdown(res)
    print(section)
    if args.quick:
        return
    out = ROOT / "docs" / "results"
    (out / "reliability_redis.json").write_text(json.dumps(res, indent=2) + "\n")
    md = out / "reliability.md"
    text = md.read_text() if md.exists() else "# Reliability\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    md.write_text(text)


if __name__ == "__main__":
    main()
