"""Slowloris: 2,000 connections that never finish their request head, while other clients are
served (issue 11 item 11).

Four processes: an upstream that answers at once, the gateway (``create_app`` on uvicorn with
the ``server.limits`` protocol of ``polyroute serve``), the attacker (N connections, each sending
a request line and then one header line every ``--drip-s`` seconds, reconnecting when the server
closes it), and this process, which sends chat completions for a concrete model on keep-alive
connections and records their latency: first without the attack, then during it.

    .venv/bin/python bench/bench_slowloris.py      # section "Slowloris" of reliability.md
    .venv/bin/python bench/bench_slowloris.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench"
SECTION = "## Slowloris (bench/bench_slowloris.py)"
ANSWER = json.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
    }
).encode()
BODY = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hello"}]}).encode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------------------- upstream role
async def _upstream(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                await reader.readexactly(n)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(ANSWER), ANSWER)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# ---------------------------------------------------------------------------- gateway role
def _gateway(port: int, upstream_port: int) -> None:
    import uvicorn

    from polyroute.gateway_config import GatewaySettings
    from polyroute.server import create_app
    from polyroute.server._protocol import uvicorn_options

    settings = GatewaySettings.model_validate(
        {
            "server": {"ephemeral_pool": True, "access_log": False},
            "models": [
                {
                    "name": "m",
                    "cost_per_query_usd": 0.001,
                    "deployments": [
                        {"name": "d", "base_url": f"http://127.0.0.1:{upstream_port}/v1"}
                    ],
                }
            ],
            "profiles": [{"name": "auto", "strategy": "round-robin", "candidates": ["m"]}],
            "security": {"client_keys": [{"name": "bench", "env": "BENCH_KEY"}]},
        }
    )
    app = create_app(settings, environ={"BENCH_KEY": KEY})
    app.startup()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        lifespan="on",
        access_log=False,
        log_level="warning",
        **uvicorn_options(settings.server.limits),
    )


# --------------------------------------------------------------------------- attacker role
async def _attack(port: int, n: int, drip_s: float, seconds: float, out: str) -> None:
    stats = {"connections_opened": 0, "closed_by_server": 0, "lifetimes_s": [], "open_peak": 0}
    open_now = 0
    stop = time.monotonic() + seconds

    async def one(i: int) -> None:
        nonlocal open_now
        rng = random.Random(i)
        await asyncio.sleep(rng.uniform(0, 1.0))  # spread the connects over a second
        while time.monotonic() < stop:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            stats["connections_opened"] += 1
            open_now += 1
            stats["open_peak"] = max(stats["open_peak"], open_now)
            born = time.monotonic()
            try:
                writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n")
                while time.monotonic() < stop:
                    try:
                        data = await asyncio.wait_for(
                            reader.read(1024), drip_s * rng.uniform(0.5, 1.5)
                        )
                    except TimeoutError:
                        writer.write(b"x-slow-%d: 1\r\n" % rng.randrange(10**6))
                        continue
                    if not data or reader.at_eof():
                        stats["closed_by_server"] += 1
                        stats["lifetimes_s"].append(time.monotonic() - born)
                        break
            except OSError:
                stats["closed_by_server"] += 1
                stats["lifetimes_s"].append(time.monotonic() - born)
            finally:
                open_now -= 1
                writer.close()

    await asyncio.gather(*(one(i) for i in range(n)))
    life = stats.pop("lifetimes_s")
    stats["lifetime_p50_s"] = float(np.median(life)) if life else None
    stats["lifetime_max_s"] = float(max(life)) if life else None
    Path(out).write_text(json.dumps(stats))


# ---------------------------------------------------------------------------- client (main)
def _client_latency(port: int, seconds: float) -> dict[str, Any]:
    """Sequential keep-alive chat completions for ``seconds`` (a new connection on failure)."""
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        f"authorization: Bearer {KEY}\r\ncontent-length: {len(BODY)}\r\n\r\n"
    ).encode()
    lat: list[float] = []
    errors = 0
    sock: socket.socket | None = None
    buf = b""
    stop = time.monotonic() + seconds
    while time.monotonic() < stop:
        t0 = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
            sock.sendall(head + BODY)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            header, _, buf = buf.partition(b"\r\n\r\n")
            n = int(header.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(buf) < n:
                buf += sock.recv(65536)
            buf = buf[n:]
            if b" 200 " not in header.split(b"\r\n")[0]:
                raise ConnectionError(header.split(b"\r\n")[0].decode())
            lat.append(time.perf_counter() - t0)
        except OSError:
            errors += 1
            if sock is not None:
                sock.close()
            sock = None
        time.sleep(0.002)
    if sock is not None:
        sock.close()
    a = np.array(lat) * 1e3
    return {
        "requests": len(lat),
        "errors": errors,
        "p50_ms": float(np.percentile(a, 50)) if len(a) else None,
        "p99_ms": float(np.percentile(a, 99)) if len(a) else None,
        "max_ms": float(a.max()) if len(a) else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=30.0, help="attack duration")
    ap.add_argument("--drip-s", type=float, default=2.0, help="seconds between header lines")
    ap.add_argument("--quick", action="store_true", help="500 connections, 10 s, no files")
    ap.add_argument("--role", choices=["upstream", "gateway", "attack"], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--port2", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.role == "upstream":
        asyncio.run(_upstream(args.port))
        return
    if args.role == "gateway":
        _gateway(args.port, args.port2)
        return
    if args.role == "attack":
        asyncio.run(_attack(args.port, args.connections, args.drip_s, args.seconds, args.out))
        return
    if args.quick:
        args.connections, args.seconds = 500, 10.0
    up_port, gw_port = _free_port(), _free_port()
    me = [sys.executable, __file__]
    procs = [subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)])]
    procs.append(
        subprocess.Popen(
            [*me, "--role", "gateway", "--port", str(gw_port), "--port2", str(up_port)]
        )
    )
    out = Path(f"/tmp/slowloris-{os.getpid()}.json")
    try:
        _wait_port(up_port)
        _wait_port(gw_port)
        load = os.getloadavg()
        _client_latency(gw_port, 2.0)  # warm-up
        quiet = _client_latency(gw_port, 10.0)
        attacker = subprocess.Popen(
            [
                *me,
                "--role",
                "attack",
                "--port",
                str(gw_port),
                "--connections",
                str(args.connections),
                "--seconds",
                str(args.seconds),
                "--drip-s",
                str(args.drip_s),
                "--out",
                str(out),
            ]
        )
        time.sleep(3.0)  # let the connections pile up
        attacked = _client_latency(gw_port, args.seconds - 5.0)
        attacker.wait(timeout=args.seconds + 120)
        attack = json.loads(out.read_text())
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        out.unlink(missing_ok=True)
    result = {
        "command": ".venv/bin/python bench/bench_slowloris.py",
        "machine": f"{os.cpu_count()} CPU cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "load_average_at_start": [round(x, 1) for x in load],
        "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "slowloris_connections": args.connections,
        "attack_seconds": args.seconds,
        "drip_s": args.drip_s,
        "limits": "server.limits defaults (header_timeout_s 10, max_header_bytes 65536, "
        "keep_alive_timeout_s 5, max_concurrency 4096)",
        "without_attack": quiet,
        "during_attack": attacked,
        "attack": attack,
    }
    print(json.dumps(result, indent=2))
    if not args.quick:
        _write(result)
    p99 = attacked["p99_ms"]
    raise SystemExit(0 if p99 is not None and p99 < 50 and attacked["errors"] == 0 else 1)


def _write(result: dict[str, Any]) -> None:
    out = ROOT / "docs" / "results"
    path_json = out / "reliability.json"
    data = json.loads(path_json.read_text()) if path_json.exists() else {}
    data["slowloris"] = result
    path_json.write_text(json.dumps(data, indent=2) + "\n")
    q, a, att = result["without_attack"], result["during_attack"], result["attack"]
    section = f"""{SECTION}

Command: `{result["command"]}` ({result["machine"]}; load average at start {" ".join(map(str, result["load_average_at_start"]))}, shared machine; {result["date_utc"]} UTC).

{result["slowloris_connections"]} attacker connections for {result["attack_seconds"]:g} s, each sending a request line and then one header line every ~{result["drip_s"]:g} s, reconnecting whenever the gateway closes it; gateway limits: {result["limits"]}. Meanwhile one client sends sequential keep-alive chat completions (concrete model, instant upstream).

| client phase | requests | errors | p50 ms | p99 ms | max ms |
|---|---:|---:|---:|---:|---:|
| without attack | {q["requests"]} | {q["errors"]} | {q["p50_ms"]:.2f} | {q["p99_ms"]:.2f} | {q["max_ms"]:.2f} |
| **during the attack** | {a["requests"]} | {a["errors"]} | {a["p50_ms"]:.2f} | **{a["p99_ms"]:.2f}** | {a["max_ms"]:.2f} |

Attacker: {att["connections_opened"]} connections opened, at most {att["open_peak"]} open at once; {att["closed_by_server"]} closed by the gateway after a median {att["lifetime_p50_s"]:.1f} s (longest {att["lifetime_max_s"]:.1f} s: the header timeout).
"""
    path_md = out / "reliability.md"
    text = path_md.read_text() if path_md.exists() else "# Gateway reliability\n"
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        nxt = rest.find("\n## ")
        text = head + section + (rest[nxt + 1 :] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path_md.write_text(text)


if __name__ == "__main__":
    main()
