"""Scaling of ``auto``: cost against prompt length and pool size, and tail latency under load.

Four measurements, each separately:

1. **embedding** of the ``auto`` profile's encoder (``minilm-static``, what the shipped router
   was fitted with) for prompts of 10 to 8,000 tokens: the engine's path (bounded window, no
   cache) against encoding the whole text (what main did);
2. **decision** after ``predict_scores`` (cluster, vectorised choice, fallback order) for pools
   of 11, 50, 200 and 500 models, with ``predict_scores`` and ``RouteDecision.to_dict`` beside;
3. **gateway**: ``auto`` with 4,000-token prompts (added latency against a direct call),
   ``/v1/route`` with a 200-model profile, both by sequential keep-alive requests;
4. **tail**: p50/p99 at concurrency 32 with ``wrk`` on pass-through and ``auto``.

With ``--baseline-src DIR`` (e.g. ``git archive main src | tar -x -C /tmp/base``) a second
gateway runs the same config from that source tree, and parts 3-4 alternate between the two
in the same run.

    .venv/bin/python bench/bench_scaling.py --baseline-src /tmp/base/src   # docs/results/scaling.*
    .venv/bin/python bench/bench_scaling.py --quick                        # fewer reps, no files
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gateway import CONCRETE, KEY, RawClient, _free_port, _upstream, _wait, _wrk

ROOT = Path(__file__).resolve().parents[1]
TOKENS = (10, 100, 500, 1000, 2000, 4000, 8000)
POOLS = (11, 50, 200, 500)


# ----------------------------------------------------------------------------- inputs
def _prompt_pool() -> list[str]:
    from polyroute.data import load_dataset

    ds = load_dataset("routerbench")
    return [str(ds.prompts[i]) for i in ds.splits["test"]]


def _prompt_of(tokens: int, prompts: list[str], start: int, tokenizer: Any) -> str:
    """RouterBench test prompts joined until the text has ``tokens`` word pieces."""
    words: list[str] = []
    i = start
    while True:
        words += prompts[i % len(prompts)].split()
        i += 1
        if len(words) >= tokens:  # word pieces >= words: trim on the token count
            text = " ".join(words)
            ids = tokenizer.encode(text, add_special_tokens=False)
            if len(ids.ids) >= tokens:
                end = ids.offsets[tokens - 1][1]
                return text[:end]


def _untruncated(encoder: Any) -> Any:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(encoder._tokenizer.to_str())
    tok.no_truncation()
    return tok


def _timed(fn: Any, reps: int) -> dict[str, float]:
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    us = np.array(times) * 1e6
    return {
        "p50_us": round(float(np.median(us)), 1),
        "p99_us": round(float(np.percentile(us, 99)), 1),
    }


# --------------------------------------------------------------------------- 1. embedding
def bench_embedding(reps: int) -> dict[str, Any]:
    from polyroute.encoders import make_encoder
    from polyroute.engine._embedding import Embedder, prompt_window

    encoder = make_encoder("minilm-static", num_threads=1)
    embedder = Embedder({"minilm-static": encoder})  # no cache: every call encodes
    tok = _untruncated(encoder)
    prompts = _prompt_pool()
    out: dict[str, Any] = {}
    for n in TOKENS:
        texts = [_prompt_of(n, prompts, 7 * k, tok) for k in range(5)]
        cycle = iter(range(10**9))

        def engine_path(texts: list[str] = texts, cycle: Any = cycle) -> None:
            embedder.embed("auto", "minilm-static", None, texts[next(cycle) % len(texts)])

        def mains_path(texts: list[str] = texts, cycle: Any = cycle) -> None:
            # main's one-prompt path: the tokenizer over the whole text, then the pooled sum
            text = texts[next(cycle) % len(texts)]
            ids = encoder._tokenizer.encode(text, add_special_tokens=False).ids
            encoder._finish(encoder._vectors[ids].sum(axis=0, keepdims=True))

        window = prompt_window(texts[0])
        out[str(n)] = {
            "chars": len(texts[0]),
            "window_chars": len(window),
            "window_tokens": len(tok.encode(window, add_special_tokens=False).ids),
            "engine": _timed(engine_path, reps),
            "mains_path": _timed(mains_path, max(10, reps // 10)),
        }
        print(f"embedding {n:>5} tokens: {out[str(n)]}", flush=True)
    return out


# ---------------------------------------------------------------------------- 2. decision
def _pool_router(n_models: int, encoder: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The shipped router plus ``n_models - 11`` synthetic models profiled from its validation
    prompts (random pass/fail with a per-model skill), and the pool's model entries."""
    import gzip

    from polyroute.engine import builtin_router_path
    from polyroute.routers import load_router

    router = load_router(builtin_router_path())
    base = list(router.model_names_)
    models = [
        {"name": m, "cost_per_query_usd": float(c)}
        for m, c in zip(base, router.model_costs_, strict=True)
    ]
    extra = n_models - len(base)
    if extra > 0:
        with gzip.open(builtin_router_path() / "validation.jsonl.gz", "rt") as fh:
            prompts = [json.loads(line)["prompt"] for line in fh][:200]
        X = encoder.encode(prompts)
        rng = np.random.default_rng(0)
        skill = rng.uniform(0.2, 0.9, size=extra)
        Y = (rng.random((len(prompts), extra)) < skill).astype(float)
        names = [f"synthetic/model-{i:03d}" for i in range(extra)]
        costs = rng.uniform(1e-5, 5e-3, size=extra)
        router.add_models(X, Y, names, costs=costs)
        models += [
            {"name": m, "cost_per_query_usd": float(c)} for m, c in zip(names, costs, strict=True)
        ]
    return router, models


def bench_decision(reps: int) -> dict[str, Any]:
    from polyroute.encoders import make_encoder

    encoder = make_encoder("minilm-static", num_threads=1)
    prompts = _prompt_pool()[:50]
    out: dict[str, Any] = {}
    for n in POOLS:
        out[str(n)] = _bench_pool(n, encoder, prompts, reps)
        print(f"decision {n:>3} models: {out[str(n)]}", flush=True)
    return out


def _bench_pool(n: int, encoder: Any, prompts: list[str], reps: int) -> dict[str, Any]:
    from polyroute.engine import HttpxUpstream, RouteRequest, RoutingEngine
    from polyroute.gateway_config import GatewaySettings
    from polyroute.pool import ModelPool
    from polyroute.state import InMemoryStateStore

    router, models = _pool_router(n, encoder)
    settings = GatewaySettings.model_validate(
        {"models": models, "profiles": [{"name": "auto", "encoder": "minilm-static"}]}
    )
    store = InMemoryStateStore()
    pool = ModelPool(":memory:", store=store)
    pool.seed(settings.models)
    engine = RoutingEngine(
        settings,
        pool,
        store=store,
        upstream=HttpxUpstream(),
        secret_lookup=lambda name: None,
        encoders={"minilm-static": encoder},
        routers={"auto": router},
    )
    engine.start()
    requests = [RouteRequest("auto", p) for p in prompts]
    X = [encoder.encode([r.text]) for r in requests]
    steps: list[Any] = [engine._begin(r) for r in requests]
    scores = [router.predict_scores(x)[0] for x in X]
    i = iter(range(10**9))

    def begin() -> None:
        engine._begin(requests[next(i) % len(requests)])

    def predict() -> None:
        router.predict_scores(X[next(i) % len(X)])

    def decide_after_scores() -> None:  # what the chat path runs after predict_scores
        k = next(i) % len(X)
        engine._choose(steps[k], X[k], scores[k], False)

    decision = engine._choose(steps[0], X[0], scores[0], True)  # /v1/route's decision
    assert len(decision.candidates) == n, (len(decision.candidates), n)
    out = {
        "before_embedding": _timed(begin, reps),
        "predict_scores": _timed(predict, reps),
        "decision_after_scores": _timed(decide_after_scores, reps),
        "to_dict": _timed(decision.to_dict, reps),
    }
    engine.close()
    return out


# ------------------------------------------------------------------------------ GC pause
def bench_gc() -> dict[str, Any]:
    """A full collection's pause after the default gateway's start-up, without and with
    ``gc.freeze()`` (what the lifespan start-up now calls)."""
    import gc

    from polyroute.gateway_config import load_gateway_settings
    from polyroute.server import create_app

    settings = load_gateway_settings(environ={})
    app = create_app(
        settings.model_copy(
            update={"server": settings.server.model_copy(update={"ephemeral_pool": True})}
        ),
        environ={},
    )
    app.startup()

    def pauses() -> dict[str, float]:
        times = []
        for _ in range(7):
            t0 = time.perf_counter()
            gc.collect()
            times.append((time.perf_counter() - t0) * 1e3)
        return {"full_collection_ms_p50": round(float(np.median(times)), 2)}

    gc.unfreeze()
    out = {"tracked_objects": len(gc.get_objects()), "unfrozen": pauses()}
    gc.freeze()
    out["frozen"] = {**pauses(), "frozen_objects": gc.get_freeze_count()}
    gc.unfreeze()
    print(f"gc: {out}", flush=True)
    return out


# ------------------------------------------------------------------------- 3-4. gateway
def _gateway_role(port: int, upstream: str, router_200: str, models_200: str) -> None:
    """One gateway (whichever ``polyroute`` is on PYTHONPATH): the default config, every model
    served by the bench upstream, plus profile ``auto-200`` over a 200-model router."""
    import uvicorn

    from polyroute.gateway_config import GatewaySettings, load_gateway_settings
    from polyroute.server import create_app

    data = load_gateway_settings(environ={}).model_dump(mode="python")
    known = {m["name"] for m in data["models"]}
    extra = [m for m in json.loads(Path(models_200).read_text()) if m["name"] not in known]
    data["models"] = [*data["models"], *extra]
    for model in data["models"]:
        model["deployments"] = [{"name": "local", "base_url": upstream}]
    data["server"] = {**data["server"], "ephemeral_pool": True, "access_log": False}
    data["security"] = {**data["security"], "client_keys": [{"name": "bench", "env": "BENCH_KEY"}]}
    for profile in data["profiles"]:
        if profile["strategy"] == "learned":
            profile["embedding_cache"] = 0  # every request pays for its embedding
    data["profiles"] = [
        *data["profiles"],
        {
            "name": "auto-200",
            "router": router_200,
            "embedding_cache": 0,
            "encoder_params": {"num_threads": 1},
        },
    ]
    app = create_app(GatewaySettings.model_validate(data), environ={"BENCH_KEY": KEY})
    app.startup()
    uvicorn.Server(
        uvicorn.Config(
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
    ).run()


def _cpu_s(pid: int) -> float:
    """CPU seconds used so far by every thread of process ``pid`` (Linux schedstat, ns).

    Unlike wall-clock latency this does not grow when other jobs share the cores: it is the
    gateway's own work per request (HTTP, JSON, routing, the upstream call's client side).
    """
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += int(fh.read().split()[0])
        except OSError:  # a thread that ended meanwhile
            continue
    return total / 1e9


def _body(model: str, prompt: str) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": prompt}]}).encode()


def _sequential(
    gateways: dict[str, int],
    up_port: int,
    path: str,
    bodies: list[bytes],
    rounds: int,
    pids: dict[str, int],
) -> dict[str, Any]:
    """Interleaved direct / gateway calls; added = gateway percentile minus direct percentile."""
    direct = RawClient(up_port)
    clients = {name: RawClient(port) for name, port in gateways.items()}
    times: dict[str, list[float]] = {name: [] for name in ["direct", *gateways]}
    cpu0 = {name: _cpu_s(pid) for name, pid in pids.items()}
    for _ in range(rounds):
        for body in bodies:
            times["direct"].append(direct.request("/v1/chat/completions", body)[1])
            for name, client in clients.items():
                _, total, status = client.request(path, body)
                if status != 200:
                    raise RuntimeError(f"{name} answered {status} on {path}")
                times[name].append(total)
    cpu = {name: _cpu_s(pid) - cpu0[name] for name, pid in pids.items()}
    ms = {k: np.array(v) * 1e3 for k, v in times.items()}
    out: dict[str, Any] = {
        "n": len(bodies) * rounds,
        "direct_p50_ms": round(float(np.median(ms["direct"])), 3),
    }
    for name in gateways:
        out[name] = {
            "p50_ms": round(float(np.median(ms[name])), 3),
            "p99_ms": round(float(np.percentile(ms[name], 99)), 3),
            "added_p50_ms": round(float(np.median(ms[name]) - np.median(ms["direct"])), 3),
            "cpu_ms_per_request": round(cpu[name] * 1e3 / len(times[name]), 3),
        }
    return out


def bench_gateway(args: argparse.Namespace) -> dict[str, Any]:
    from polyroute.encoders import make_encoder

    encoder = make_encoder("minilm-static", num_threads=1)
    tok = _untruncated(encoder)
    prompts = _prompt_pool()
    tmp = Path(tempfile.mkdtemp(prefix="polyroute-scaling-"))
    router, models = _pool_router(200, encoder)
    router_dir = str(router.save(tmp / "router-200"))
    (tmp / "models.json").write_text(json.dumps(models))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    up_port = _free_port()
    me = [sys.executable, __file__]
    procs = [subprocess.Popen([*me, "--role", "upstream", "--port", str(up_port)], env=env)]
    srcs = {"after": str(ROOT / "src")}
    if args.baseline_src:
        srcs["before"] = str(Path(args.baseline_src).resolve())
    ports = {name: _free_port() for name in srcs}
    pids: dict[str, int] = {}
    for name, src in srcs.items():
        cmd = [
            *me,
            "--role",
            "gateway",
            "--port",
            str(ports[name]),
            "--upstream",
            f"http://127.0.0.1:{up_port}/v1",
            "--router-200",
            router_dir,
            "--models-200",
            str(tmp / "models.json"),
        ]
        procs.append(subprocess.Popen(cmd, env={**env, "PYTHONPATH": src}))
        pids[name] = procs[-1].pid
    try:
        _wait(up_port, procs[0])
        for name, proc in zip(srcs, procs[1:], strict=True):
            _wait(ports[name], proc)
        n_long = 20 if args.quick else 60
        long_bodies = [_body("auto", _prompt_of(4000, prompts, 11 * k, tok)) for k in range(n_long)]
        short = prompts[: (100 if args.quick else 400)]
        route_bodies = [_body("auto-200", p) for p in short[:200]]
        concrete = [_body(CONCRETE, p) for p in short]
        auto = [_body("auto", p) for p in short]
        _sequential(ports, up_port, "/v1/chat/completions", auto[:30], 1, pids)  # warm-up
        _sequential(ports, up_port, "/v1/route", route_bodies[:30], 1, pids)
        res: dict[str, Any] = {"ports": ports}
        rounds = 1 if args.quick else 3
        res["auto_4000_tokens"] = _sequential(
            ports, up_port, "/v1/chat/completions", long_bodies, rounds, pids
        )
        print("auto 4000 tokens:", res["auto_4000_tokens"], flush=True)
        res["route_200_models"] = _sequential(
            ports, up_port, "/v1/route", route_bodies, rounds, pids
        )
        print("/v1/route 200 models:", res["route_200_models"], flush=True)
        tail: dict[str, Any] = {}
        reps = 1 if args.quick else 3
        for rep in range(reps):  # alternate before/after so both see the same machine load
            for name, port in ports.items():
                for label, bodies in (("pass_through", concrete), ("auto", auto)):
                    before_cpu = _cpu_s(pids[name])
                    run = _wrk(port, bodies, 32, args.seconds)
                    used = _cpu_s(pids[name]) - before_cpu
                    n = max(1.0, run["req_per_s"] * run["seconds"])
                    run["cpu_ms_per_request"] = round(used * 1e3 / n, 3)
                    tail.setdefault(name, {}).setdefault(label, []).append(run)
                    print(f"wrk c32 {name} {label} rep {rep}: {run}", flush=True)
        res["c32"] = {
            name: {
                label: {
                    "runs": runs,
                    "p50_ms_median": float(np.median([r["p50_ms"] for r in runs])),
                    "p99_ms_median": float(np.median([r["p99_ms"] for r in runs])),
                    "req_per_s_median": float(np.median([r["req_per_s"] for r in runs])),
                    "cpu_ms_per_request_median": float(
                        np.median([r["cpu_ms_per_request"] for r in runs])
                    ),
                }
                for label, runs in by_label.items()
            }
            for name, by_label in tail.items()
        }
        return res
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


# ------------------------------------------------------------------------------- report
def _markdown(res: dict[str, Any], meta: dict[str, Any]) -> str:
    lines = [
        "# `auto` scaling: prompt length, pool size, tail latency",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}; load average at start {meta['loadavg']} (2 cores shared by "
        f"8 helpers running tests and benchmarks: absolute numbers are noisy, before and after "
        f"alternate in the same run); {meta['date']}.",
        *(
            [
                f"Parts re-run with `{meta['update']['command']}` (load average "
                f"{meta['update']['loadavg']}, {meta['update']['date']}).",
            ]
            if "update" in meta
            else []
        ),
        "",
    ]
    emb = res.get("embedding")
    if emb:
        lines += [
            "## 1. Embedding for `auto` (`minilm-static`, target p50 ≤ 150 µs at every length)",
            "",
            "The engine's path: the prompt's window (first 768 and last 256 characters, see "
            "`polyroute.engine.prompt_window`) encoded without embedding cache (the encoder's "
            "word-id cache is warm, as in a serving process). main's path: the tokenizer over "
            "the whole prompt (truncated at 512 word pieces after tokenising), then the pooled "
            "sum.",
            "",
            "| prompt tokens | chars | window tokens | **engine p50 µs** | engine p99 µs | main's path p50 µs |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for n, r in emb.items():
            lines.append(
                f"| {n} | {r['chars']} | {r['window_tokens']} | **{r['engine']['p50_us']:.0f}** | "
                f"{r['engine']['p99_us']:.0f} | {r['mains_path']['p50_us']:.0f} |"
            )
        lines.append("")
    dec = res.get("decision")
    if dec:
        lines += [
            "## 2. Decision after `predict_scores` (target p50 ≤ 100 µs at every pool size)",
            "",
            "Pools: the shipped router's 11 models plus synthetic models profiled with "
            "`add_models` from its validation prompts. `before embedding` is the profile lookup, "
            "λ check and candidate arrays; `decision` is what the chat path runs after "
            "`predict_scores`: the vectorised choice (`select`) and the fallback order (the "
            "prompt's cluster, a second pass over the router, is found for `/v1/route` only); "
            "`to_dict` is `/v1/route`'s serialisation of all candidates.",
            "",
            "| models | before embedding p50 µs | predict_scores p50 µs | **decision p50 µs** | decision p99 µs | to_dict p50 µs |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for n, r in dec.items():
            lines.append(
                f"| {n} | {r['before_embedding']['p50_us']:.0f} | {r['predict_scores']['p50_us']:.0f} | "
                f"**{r['decision_after_scores']['p50_us']:.0f}** | {r['decision_after_scores']['p99_us']:.0f} | "
                f"{r['to_dict']['p50_us']:.0f} |"
            )
        lines.append("")
    g = res.get("gc")
    if g:
        lines += [
            "## GC: a full collection after start-up (default gateway config, in process)",
            "",
            f"{g['tracked_objects']:,} objects tracked after start-up. A full collection takes "
            f"**{g['unfrozen']['full_collection_ms_p50']:.1f} ms** (p50 of 7) as they are, "
            f"**{g['frozen']['full_collection_ms_p50']:.2f} ms** after `gc.freeze()` "
            f"({g['frozen']['frozen_objects']:,} objects frozen); each such pause stalls the "
            "event loop and every request in flight.",
            "",
        ]
    gw = res.get("gateway")
    if gw:
        names = [n for n in ("before", "after") if n in gw["ports"]]
        a4, r2 = gw["auto_4000_tokens"], gw["route_200_models"]
        lines += [
            "## 3. Through the gateway (uvicorn + uvloop + httptools, 1 worker)",
            "",
            "Sequential keep-alive requests, direct upstream calls interleaved; `before` is the "
            "baseline source tree given with `--baseline-src`, served with the same config.",
            "",
            "| measurement | target | " + " | ".join(names) + " |",
            "|---|---|" + "---:|" * len(names),
            f"| `auto`, 4,000-token prompts, added p50 ms (n={a4['n']}) | ≤ 1.0 | "
            + " | ".join(f"{a4[n]['added_p50_ms']:.3f}" for n in names)
            + " |",
            "| ... gateway CPU ms per request (all threads) | | "
            + " | ".join(f"{a4[n]['cpu_ms_per_request']:.3f}" for n in names)
            + " |",
            f"| `/v1/route`, 200 models, p50 ms (n={r2['n']}) | ≤ 1.5 | "
            + " | ".join(f"{r2[n]['p50_ms']:.3f}" for n in names)
            + " |",
            "| ... gateway CPU ms per request (all threads) | | "
            + " | ".join(f"{r2[n]['cpu_ms_per_request']:.3f}" for n in names)
            + " |",
            "",
            "Wall-clock latency on this machine mostly measures waiting for a core (load "
            "average far above the 2 cores); the CPU time the gateway process spends per "
            "request (all its threads, from `/proc/<pid>/task/*/schedstat`) does not depend "
            "on that wait.",
            "",
            "## 4. Concurrency 32 (wrk, 1 thread, "
            f"{meta['seconds']} s per run; medians of {meta['reps']} alternating runs; target p99 ≤ 25 ms)",
            "",
            "| path | gateway | req/s | p50 ms | **p99 ms** | CPU ms per request |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label in ("pass_through", "auto"):
            for name in names:
                r = gw["c32"][name][label]
                lines.append(
                    f"| {label.replace('_', '-')} | {name} | {r['req_per_s_median']:.0f} | "
                    f"{r['p50_ms_median']:.2f} | **{r['p99_ms_median']:.2f}** | "
                    f"{r['cpu_ms_per_request_median']:.3f} |"
                )
        lines.append("")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--role", choices=["upstream", "gateway"])
    ap.add_argument("--port", type=int)
    ap.add_argument("--upstream")
    ap.add_argument("--router-200")
    ap.add_argument("--models-200")
    ap.add_argument("--baseline-src", help="src/ of the code to compare against (parts 3-4)")
    ap.add_argument("--parts", default="embedding,decision,gc,gateway")
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--update", action="store_true", help="replace only --parts in scaling.json")
    args = ap.parse_args()
    if args.role == "upstream":
        import uvloop

        uvloop.run(_upstream(args.port))
        return
    if args.role == "gateway":
        _gateway_role(args.port, args.upstream, args.router_200, args.models_200)
        return
    if args.quick:
        args.reps, args.seconds = 200, 3
    meta = {
        "command": " ".join([".venv/bin/python", "bench/bench_scaling.py", *sys.argv[1:]]),
        "machine": f"{os.cpu_count()} CPU cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}",
        "loadavg": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": args.seconds,
        "reps": 1 if args.quick else 3,
        "load_generator": "wrk",
    }
    parts = args.parts.split(",")
    res: dict[str, Any] = {"meta": meta}
    if "embedding" in parts:
        res["embedding"] = bench_embedding(args.reps)
    if "decision" in parts:
        res["decision"] = bench_decision(args.reps)
    if "gc" in parts:
        res["gc"] = bench_gc()
    if "gateway" in parts:
        res["gateway"] = bench_gateway(args)
    print(json.dumps(res, indent=1))
    if not args.quick:
        out = ROOT / "docs" / "results"
        if args.update and (out / "scaling.json").exists():  # keep the parts not run now
            old = json.loads((out / "scaling.json").read_text())
            res = {**old, **res, "meta": {**old["meta"], "update": meta}}
            meta = res["meta"]
        (out / "scaling.json").write_text(json.dumps(res, indent=1) + "\n")
        (out / "scaling.md").write_text(_markdown(res, meta))
        print(f"wrote {out / 'scaling.json'} and {out / 'scaling.md'}")


if __name__ == "__main__":
    main()
