"""Gateway overhead benchmark: added latency and throughput of ``polyroute serve`` on loopback.

Three processes: a minimal raw-asyncio upstream that answers instantly (JSON or a 4-chunk SSE
stream), the gateway (uvicorn + uvloop + httptools, one worker, access log off), and the load
generator (this process: a blocking keep-alive socket client for latency, ``wrk`` for
throughput). Added latency = percentile through the gateway minus the same percentile of a
direct call to the upstream, measured in interleaved rounds.

    .venv/bin/python bench/bench_gateway.py            # writes docs/results/gateway.{json,md}
    .venv/bin/python bench/bench_gateway.py --quick    # fewer requests, no files
    .venv/bin/python bench/bench_gateway.py --print-costs   # default_gateway.yaml's costs
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench"
CONCRETE = "mistralai/mistral-7b-chat"
ANSWER = json.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 0,
        "model": CONCRETE,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
    }
).encode()
CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":0,"model":"m",'
    b'"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":null}]}\n\n'
)


# ----------------------------------------------------------------------------- upstream role
async def _upstream(port: int) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if b'"stream":true' in body:
                    writer.write(
                        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                        b"transfer-encoding: chunked\r\n\r\n"
                    )
                    for part in (CHUNK, CHUNK, CHUNK, CHUNK, b"data: [DONE]\n\n"):
                        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                    writer.write(b"0\r\n\r\n")
                else:
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


# ------------------------------------------------------------------------------ gateway role
def _gateway(
    port: int, upstream: str, profile_out: str | None, router: str | None, fast_router: str | None
) -> None:
    import uvicorn

    from polyroute.gateway_config import GatewaySettings, load_gateway_settings
    from polyroute.server import create_app

    data = load_gateway_settings(environ={}).model_dump(mode="python")
    for model in data["models"]:
        model["deployments"] = [{"name": "local", "base_url": upstream}]
    data["server"] = {**data["server"], "ephemeral_pool": True, "access_log": False}
    data["security"] = {**data["security"], "client_keys": [{"name": "bench", "env": "BENCH_KEY"}]}
    for profile in data["profiles"]:
        if profile["strategy"] == "learned":  # every request pays for its embedding
            profile["embedding_cache"] = 0
            profile["router"] = router or profile["router"]
    auto = next(p for p in data["profiles"] if p["name"] == "auto")
    from polyroute.gateway_config import RoutingProfile

    if "topics" in RoutingProfile.model_fields:  # a --baseline-src tree may predate the signals
        data["profiles"] = [  # + `auto` with every contextual signal computed (no rule matches)
            *data["profiles"],
            {
                **auto,
                "name": "auto-context",
                "latency_weight": 0.1,
                "topics": [
                    {
                        "name": "cooking",
                        "description": "Cooking: recipes, baking, ingredients.",
                        "threshold": 0.99,
                    },
                    {
                        "name": "law",
                        "description": "Law: contracts, courts, legal rights.",
                        "threshold": 0.99,
                    },
                    {
                        "name": "sports",
                        "description": "Sports: football, tennis, athletes, games.",
                        "threshold": 0.99,
                    },
                ],
                "rules": [
                    {"name": "lang", "when": {"language": ["xx"]}, "model": CONCRETE},
                    {"name": "topic", "when": {"topic": "cooking"}, "model": CONCRETE},
                    {"name": "hard", "when": {"min_difficulty": 1.0}, "model": CONCRETE},
                    *auto.get("rules", []),
                ],
            },
        ]
    if fast_router:  # the same UniRoute method on hashing features: no neural encoder
        data["profiles"] = [
            *data["profiles"],
            {"name": "auto-fast", "router": fast_router, "embedding_cache": 0},
        ]
    settings = GatewaySettings.model_validate(data)
    app = create_app(settings, environ={"BENCH_KEY": KEY})
    app.startup()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_level="warning",
        backlog=2048,
    )
    server = uvicorn.Server(config)
    if profile_out:  # SIGUSR1 writes the report (uvicorn re-raises SIGTERM on exit)
        import cProfile
        import pstats
        import signal

        prof = cProfile.Profile()

        def dump(signum: int, frame: Any) -> None:
            prof.disable()
            with open(profile_out, "w") as fh:
                pstats.Stats(prof, stream=fh).sort_stats("tottime").print_stats(40)

        signal.signal(signal.SIGUSR1, dump)
        prof.enable()
    server.run()


# ------------------------------------------------------------------------------- the client
class RawClient:
    """Blocking keep-alive HTTP/1.1 client with negligible overhead (latency rounds)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def request(self, path: str, body: bytes) -> tuple[float, float, int]:
        """Send one POST; returns (seconds to the first body byte, seconds total, status)."""
        head = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"authorization: Bearer {KEY}\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode()
        t0 = time.perf_counter()
        self.sock.sendall(head + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(65536)
        header, _, self.buf = self.buf.partition(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        lower = header.lower()
        if b"content-length:" in lower:
            n = int(lower.split(b"content-length:")[1].split(b"\r\n")[0])
            while len(self.buf) < n:
                self.buf += self.sock.recv(65536)
            t_first = time.perf_counter()
            self.buf = self.buf[n:]
            return t_first - t0, time.perf_counter() - t0, status
        t_first = None  # chunked: read until the terminating chunk
        while True:
            if self.buf and t_first is None:
                t_first = time.perf_counter()
            if self.buf.find(b"0\r\n\r\n") != -1 and self.buf.endswith(b"0\r\n\r\n"):
                self.buf = b""
                break
            self.buf += self.sock.recv(65536)
            if t_first is None:
                t_first = time.perf_counter()
        return t_first - t0, time.perf_counter() - t0, status


def _body(model: str, prompt: str, stream: bool = False) -> bytes:
    return json.dumps(
        {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream}
    ).encode()


def _latency(
    gw_port: int, up_port: int, bodies: list[bytes], rounds: int, stream: bool = False
) -> dict[str, Any]:
    """Interleaved rounds of direct and gateway calls with the same bodies."""
    direct, via = RawClient(up_port), RawClient(gw_port)
    d_t, g_t = [], []
    for _ in range(rounds):
        for body in bodies:
            d = direct.request("/v1/chat/completions", body)
            g = via.request("/v1/chat/completions", body)
            if g[2] != 200:
                raise RuntimeError(f"gateway answered {g[2]}")
            d_t.append(d[0] if stream else d[1])
            g_t.append(g[0] if stream else g[1])
    d_ms, g_ms = np.array(d_t) * 1e3, np.array(g_t) * 1e3
    out: dict[str, Any] = {
        "n": len(d_ms),
        "added_mean_ms": round(float(g_ms.mean() - d_ms.mean()), 3),
    }
    for q in (50, 90, 99):
        dq, gq = float(np.percentile(d_ms, q)), float(np.percentile(g_ms, q))
        out[f"direct_p{q}_ms"] = round(dq, 3)
        out[f"gateway_p{q}_ms"] = round(gq, 3)
        out[f"added_p{q}_ms"] = round(gq - dq, 3)
    return out


def _embedding_mean_ms(port: int) -> dict[str, float]:
    """Mean prompt-embedding time inside the gateway, from its Prometheus histogram."""
    import urllib.request

    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"authorization": f"Bearer {KEY}"}
    )
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line.startswith("polyroute_embedding_seconds_")
    }
    total, count = (
        values["polyroute_embedding_seconds_sum"],
        values["polyroute_embedding_seconds_count"],
    )
    return {"count": count, "mean_ms": round(total / count * 1e3, 3)}


def _wrk(port: int, bodies: list[bytes], connections: int, seconds: int) -> dict[str, Any]:
    """Throughput with wrk (1 thread) cycling through ``bodies``."""
    lua = (
        ["bodies = {"]
        + [f"  {json.dumps(b.decode())}," for b in bodies]
        + [
            "}",
            "i = 0",
            "request = function()",
            "  i = i % #bodies + 1",
            (
                '  return wrk.format("POST", "/v1/chat/completions", {["content-type"] = '
                f'"application/json", ["authorization"] = "Bearer {KEY}"}}, bodies[i])'
            ),
            "end",
            "done = function(summary, latency, requests)",
            (
                '  io.write(string.format("JSON{\\"requests\\":%d,\\"errors\\":%d,\\"non2xx\\":%d,'
                '\\"p50_us\\":%d,\\"p99_us\\":%d}\\n", summary.requests, summary.errors.status + '
                "summary.errors.connect + summary.errors.read + summary.errors.write + "
                "summary.errors.timeout, summary.errors.status, latency:percentile(50), "
                "latency:percentile(99)))"
            ),
            "end",
        ]
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write("\n".join(lua))
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "-s",
            fh.name,
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(fh.name)
    stats = json.loads(out.stdout.split("JSON", 1)[1].splitlines()[0])
    return {
        "connections": connections,
        "seconds": seconds,
        "req_per_s": round(stats["requests"] / seconds, 1),
        "errors": stats["errors"],
        "p50_ms": stats["p50_us"] / 1e3,
        "p99_ms": stats["p99_us"] / 1e3,
    }


# ---------------------------------------------------------------------------- orchestration
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the process for port {port} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on port {port} after {timeout_s}s")


def _embed_times(prompts: list[str]) -> dict[str, Any]:
    """MiniLM (1 ONNX thread, as in the gateway) on the same prompts, in this process."""
    from polyroute.encoders import make_encoder

    enc = make_encoder("minilm", num_threads=1)
    enc.encode(prompts[:3])
    times, tokens = [], []
    for p in prompts:
        t0 = time.perf_counter()
        enc.encode([p])
        times.append((time.perf_counter() - t0) * 1e3)
        tokens.append(len(enc._tokenizer.encode(p).ids))
    return {
        "n": len(times),
        "p50_ms": round(float(np.median(times)), 3),
        "p99_ms": round(float(np.percentile(times, 99)), 3),
        "tokens_p50": float(np.median(tokens)),
        "tokens_max": int(max(tokens)),
    }


def _fit_hashing_router(out: Path) -> str:
    """UniRoute K-means (K=16) on hashing features of RouterBench train, saved under ``out``."""
    from polyroute.data import load_dataset
    from polyroute.encoders import HashingEncoder
    from polyroute.routers import make_router

    ds = load_dataset("routerbench")
    train = ds.splits["train"]
    X = HashingEncoder().encode([str(p) for p in ds.prompts[train]])
    router = make_router("uniroute-kmeans", n_clusters=16, random_state=0)
    router.fit(X, ds.scores[train], model_names=list(ds.model_names))
    router.encoder_ = "hashing"
    return str(router.save(out / "router"))


def _prompts(n: int) -> list[str]:
    from polyroute.data import load_dataset

    ds = load_dataset("routerbench")
    test = ds.splits["test"]
    return [str(ds.prompts[i]) for i in test[:n]]


def run(args: argparse.Namespace, src: str | None = None) -> dict[str, Any]:
    """One full measurement; ``src`` serves the gateway from another source tree."""
    up_port, gw_port = _free_port(), _free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    gw_env = {**env, "PYTHONPATH": src} if src else env
    me = [sys.executable, __file__]
    procs = [subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)], env=env)]
    gw_cmd = [
        *me,
        "--role",
        "gateway",
        "--port",
        str(gw_port),
        "--upstream",
        f"http://127.0.0.1:{up_port}/v1",
    ]
    if args.profile:
        gw_cmd += ["--profile-out", args.profile]
    if args.router:
        gw_cmd += ["--router", args.router]
    fast_dir = tempfile.mkdtemp(prefix="polyroute-bench-")
    gw_cmd += ["--fast-router", _fit_hashing_router(Path(fast_dir))]
    procs.append(subprocess.Popen(gw_cmd, env=gw_env))
    try:
        _wait(up_port, procs[0])
        _wait(gw_port, procs[1])
        prompts = _prompts(args.n_prompts)
        concrete = [_body(CONCRETE, p) for p in prompts]
        auto = [_body("auto", p) for p in prompts]
        streamed = [_body(CONCRETE, p, stream=True) for p in prompts]
        _latency(gw_port, up_port, concrete[:50], 1)  # warm-up: connections, caches, JIT-free
        _latency(gw_port, up_port, auto[:50], 1)
        fast = [_body("auto-fast", p) for p in prompts]
        before = _embedding_mean_ms(gw_port)
        res: dict[str, Any] = {"latency_auto": _latency(gw_port, up_port, auto, args.rounds)}
        ctx = [_body("auto-context", p) for p in prompts]
        if RawClient(gw_port).request("/v1/chat/completions", ctx[0])[2] == 200:
            _latency(gw_port, up_port, ctx[:50], 1)
            res["latency_auto_context"] = _latency(gw_port, up_port, ctx, args.rounds)
        after = _embedding_mean_ms(gw_port)
        n = after["count"] - before["count"]
        res["embedding_in_gateway_mean_ms"] = round(
            (after["mean_ms"] * after["count"] - before["mean_ms"] * before["count"]) / n, 3
        )
        res.update(
            {
                "latency_auto_hashing": _latency(gw_port, up_port, fast, args.rounds),
                "latency_concrete": _latency(gw_port, up_port, concrete, args.rounds),
                "stream_ttfb": _latency(gw_port, up_port, streamed, args.rounds, stream=True),
            }
        )
        res["embedding_in_bench_process"] = _embed_times(prompts)
        secs = args.seconds
        res["throughput"] = {
            "concrete_c1": _wrk(gw_port, concrete, 1, secs),
            "concrete_c32": _wrk(gw_port, concrete, 32, secs),
            "auto_c1": _wrk(gw_port, auto, 1, secs),
            "auto_c32": _wrk(gw_port, auto, 32, secs),
            "auto_hashing_c32": _wrk(gw_port, fast, 32, secs),
            "direct_c32": _wrk(up_port, concrete, 32, secs),
        }
        return res
    finally:
        if args.profile:
            procs[1].send_signal(signal.SIGUSR1)
            time.sleep(2.0)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)
        shutil.rmtree(fast_dir, ignore_errors=True)


def _row(label: str, r: dict[str, Any] | None, target: str) -> str:
    if r is None:  # not measured (a baseline tree without that profile)
        return f"| {label} | – | – | – | – | – | {target} |"
    return (
        f"| {label} | {r['n']} | {r['direct_p50_ms']:.3f} | {r['gateway_p50_ms']:.3f} | "
        f"**{r['added_p50_ms']:.3f}** | {r['added_p99_ms']:.3f} | {target} |"
    )


def _markdown(res: dict[str, Any], meta: dict[str, Any]) -> str:
    lc, la, st, tp = (
        res["latency_concrete"],
        res["latency_auto"],
        res["stream_ttfb"],
        res["throughput"],
    )
    emb = res["embedding_in_bench_process"]
    labels = {
        "concrete_c1": "gateway, concrete model",
        "concrete_c32": "gateway, concrete model",
        "auto_c1": "gateway, `auto`",
        "auto_c32": "gateway, `auto`",
        "auto_hashing_c32": "gateway, `auto-fast` (hashing)",
        "direct_c32": "upstream direct (reference)",
    }
    lines = [
        "## Gateway overhead on loopback"
        if meta.get("baseline_src")
        else "# Gateway overhead on loopback",
        "",
        f"Command: `{meta['command']}`  ",
        (
            f"Machine: {meta['machine']}; load average at start {meta['loadavg']} (shared "
            f"with other jobs); {meta['date']}."
        ),
        "",
        (
            "Upstream: a raw-asyncio server answering instantly; gateway: `create_app` on uvicorn "
            "(uvloop, httptools), 1 worker, access log off, all 11 default models pointing at the "
            f"upstream; prompts: {meta['n_prompts']} RouterBench test prompts (distinct, real "
            "lengths). Latency: sequential keep-alive requests, gateway and direct interleaved; "
            "added = gateway percentile minus direct percentile."
        ),
        "",
        "| path | n | direct p50 ms | gateway p50 ms | **added p50 ms** | added p99 ms | target |",
        "|---|---:|---:|---:|---:|---:|---|",
        _row(f"concrete model (`{CONCRETE}`)", lc, "p50 ≤ 2 ms"),
        _row(
            "`auto` (shipped router: `minilm-static` embedding + UniRoute decision)",
            la,
            "p50 ≤ 8 ms",
        ),
        _row(
            "`auto-context` (`auto` + language, topic and difficulty rules evaluated, μ = 0.1)",
            res.get("latency_auto_context"),
            "≤ `auto` + 1 ms",
        ),
        _row(
            "`auto-fast` (hashing features + UniRoute, no neural encoder)",
            res["latency_auto_hashing"],
            "",
        ),
        _row("streaming, time to first byte (concrete)", st, ""),
        "",
        (
            f"Where `auto`'s time goes: the gateway's own embedding histogram "
            f"(`polyroute_embedding_seconds`) gives a mean of {res['embedding_in_gateway_mean_ms']:.2f}"
            f" ms per request during the `auto` rounds, against a mean added latency of "
            f"{la['added_mean_ms']:.2f} ms: everything else (HTTP, JSON, worker-thread hop, UniRoute "
            f"scores, selection, upstream call) is ≈ "
            f"{la['added_mean_ms'] - res['embedding_in_gateway_mean_ms']:.2f} ms. For comparison, full "
            f"MiniLM (`minilm`, ONNX, 1 thread) on the same prompts in the load generator's process: p50 "
            f"{emb['p50_ms']:.2f} ms, p99 {emb['p99_ms']:.2f} ms (prompt length p50 "
            f"{emb['tokens_p50']:.0f} tokens, max {emb['tokens_max']}). Profile of the gateway's "
            "event-loop thread (functions by own time; the embedding runs in a worker thread and "
            "is measured by the histogram above): `.venv/bin/python bench/bench_gateway.py "
            "--quick --profile docs/results/gateway_profile.txt`."
        ),
        "",
        "Throughput (wrk, 1 thread, sustained; the load generator shares the 2 cores):",
        "",
        "| target | connections | req/s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, row in tp.items():
        lines.append(
            f"| {labels[name]} | {row['connections']} | {row['req_per_s']:.0f} | "
            f"{row['p50_ms']:.2f} | {row['p99_ms']:.2f} | {row['errors']} |"
        )
    peer = (
        "Peer reference (not re-measured by this script): the LiteLLM proxy 1.106.2 on this "
        "machine class, one worker, measured outside the project with wrk "
        "(`shared/KNOWN-RESULTS.md`): +14.4 ms added p50, about 69 req/s at concurrency 1 "
        "and 77 req/s at 32."
    )
    lines += ["", peer]
    return "\n".join(lines) + "\n"


_KEYS = {
    "pass-through (concrete model), added p50 ms": ("latency_concrete", "added_p50_ms"),
    "pass-through, added p99 ms": ("latency_concrete", "added_p99_ms"),
    "`auto`, added p50 ms": ("latency_auto", "added_p50_ms"),
    "`auto`, added p99 ms": ("latency_auto", "added_p99_ms"),
    "`auto-fast` (hashing), added p50 ms": ("latency_auto_hashing", "added_p50_ms"),
    "streaming TTFB, added p50 ms": ("stream_ttfb", "added_p50_ms"),
    "wrk c32 pass-through, p99 ms": ("throughput", "concrete_c32", "p99_ms"),
    "wrk c32 pass-through, req/s": ("throughput", "concrete_c32", "req_per_s"),
    "wrk c32 `auto`, p99 ms": ("throughput", "auto_c32", "p99_ms"),
    "wrk c32 `auto`, req/s": ("throughput", "auto_c32", "req_per_s"),
}


def _get(run: dict[str, Any], path: tuple[str, ...]) -> float:
    value: Any = run
    for key in path:
        value = value[key]
    return float(value)


def _before_after(args: argparse.Namespace, meta: dict[str, Any]) -> dict[str, Any]:
    """Baseline and current gateway, alternating ``--repeats`` times; medians per metric."""
    runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
    for rep in range(args.repeats):
        for name, src in (("before", args.baseline_src), ("after", None)):
            print(f"--- {name}, repeat {rep + 1}/{args.repeats}", flush=True)
            runs[name].append(run(args, src))
    summary = {
        label: {name: float(np.median([_get(r, path) for r in rs])) for name, rs in runs.items()}
        for label, path in _KEYS.items()
    }
    return {"summary": summary, "runs": runs, "after": runs["after"][-1]}


def _before_after_markdown(res: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# Gateway overhead: before and after, same run",
        "",
        f"Command: `{meta['command']}`  ",
        (
            f"`before` serves the gateway from `{meta['baseline_src']}`, `after` from this "
            f"checkout; the two alternate {meta['repeats']} times in one run (each a full "
            "measurement as below) and the table gives the median per metric. Machine: "
            f"{meta['machine']}; load average at start {meta['loadavg']} (2 cores shared by "
            f"several jobs: absolute numbers are noisy); {meta['date']}."
        ),
        "",
        "| metric | before | after |",
        "|---|---:|---:|",
    ]
    for label, by in res["summary"].items():
        lines.append(f"| {label} | {by['before']:.3f} | {by['after']:.3f} |")
    lines += ["", "The last `after` run in full:", ""]
    return "\n".join(lines) + "\n"


def _print_costs() -> None:
    from polyroute.data import load_dataset

    ds = load_dataset("routerbench")
    costs = ds.cost_matrix()[ds.splits["train"]]
    for j, model in enumerate(ds.model_names):
        print(f"{model:40s} cost_per_query_usd: {costs[:, j].mean():.7f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=["upstream", "gateway"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--upstream")
    ap.add_argument("--profile-out")
    ap.add_argument("--router", help="router artifact for `auto` (default: builtin:default)")
    ap.add_argument("--fast-router")
    ap.add_argument("--profile", help="write a cProfile report of the gateway to this file")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--print-costs", action="store_true")
    ap.add_argument(
        "--baseline-src",
        help="src/ of the code to compare against: before and after alternate, --repeats each",
    )
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--n-prompts", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if args.role == "upstream":
        import uvloop

        uvloop.run(_upstream(args.port))
        return
    if args.role == "gateway":
        _gateway(args.port, args.upstream, args.profile_out, args.router, args.fast_router)
        return
    if args.print_costs:
        _print_costs()
        return
    if args.quick:
        args.n_prompts, args.rounds, args.seconds = 100, 1, 3
    meta = {
        "command": " ".join([".venv/bin/python", "bench/bench_gateway.py", *sys.argv[1:]]),
        "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}"
        f", Python {platform.python_version()}",
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "n_prompts": args.n_prompts,
        "wrk": shutil.which("wrk") is not None,
        "baseline_src": args.baseline_src,
        "repeats": args.repeats,
    }
    res = _before_after(args, meta) if args.baseline_src else run(args)
    res["meta"] = meta
    print(json.dumps(res, indent=2))
    if not args.quick:
        out = ROOT / "docs" / "results"
        out.mkdir(parents=True, exist_ok=True)
        (out / "gateway.json").write_text(json.dumps(res, indent=2) + "\n")
        if args.baseline_src:
            text = _before_after_markdown(res, meta) + "\n" + _markdown(res["after"], meta)
        else:
            text = _markdown(res, meta)
        (out / "gateway.md").write_text(text)
        print(f"wrote {out / 'gateway.json'} and {out / 'gateway.md'}")


if __name__ == "__main__":
    main()
