"""Speed of the query encoders and of the embedding cache, on real RouterDC prompts.

Measures, for the ONNX fast path (``minilm``) and the sentence-transformers reference
(``minilm-st``), both on this machine's CPU with the same thread count:

* throughput (prompts/s) at batch size 64 over a fixed sample of real prompts;
* single-prompt latency p50/p90/p99 (``encode([text])``, one prompt at a time, after warm-up);
* the embedding cache: time to look up N already-cached texts through ``encode_cached``.

Writes ``docs/results/encoder.json`` and ``docs/results/encoder.md``. The machine is shared:
the load average before and after the run is recorded; compare numbers only from quiet runs.

Usage::

    .venv/bin/python bench/bench_encoder.py [--n-latency 500] [--n-throughput 512] \
        [--threads N] [--skip-st] [--out docs/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.data import load_dataset
from polyroute.encoders import (
    EmbeddingCache,
    Encoder,
    MiniLMEncoder,
    encode_cached,
    make_encoder,
    text_key,
)

COMMAND = ".venv/bin/python bench/bench_encoder.py"
SEED = 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    import onnxruntime

    return {
        "cpu": _cpu_model(),
        "cores_available": len(os.sched_getaffinity(0)),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }


def sample_prompts(n: int, *, offset: int = 0) -> list[str]:
    """A fixed, seeded sample of RouterDC prompts (all tasks, English/Chinese/code/math)."""
    prompts = load_dataset("routerdc").prompts
    order = np.random.default_rng(SEED).permutation(len(prompts))
    return [str(p) for p in prompts[order[offset : offset + n]]]


BUCKETS = ((2, 16), (17, 64), (65, 128), (129, 256))  # tokens, [CLS]/[SEP] included


def latency_ms(
    encoder: Encoder, texts: Sequence[str], n_tokens: np.ndarray, *, warmup: int = 20
) -> dict[str, Any]:
    for text in texts[:warmup]:
        encoder.encode([text])
    times = []
    for text in texts:
        start = time.perf_counter()
        encoder.encode([text])
        times.append((time.perf_counter() - start) * 1e3)
    arr = np.asarray(times)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    by_len = {}
    for lo, hi in BUCKETS:
        sel = arr[(n_tokens >= lo) & (n_tokens <= hi)]
        if sel.size:
            by_len[f"{lo}-{hi}"] = {"n": int(sel.size), "p50_ms": round(float(np.median(sel)), 3)}
    return {
        "p50_ms": round(float(p50), 3),
        "p90_ms": round(float(p90), 3),
        "p99_ms": round(float(p99), 3),
        "mean_ms": round(statistics.fmean(times), 3),
        "n": len(times),
        "p50_by_tokens": by_len,
    }


def throughput(encoder: Encoder, texts: Sequence[str], *, batch_size: int = 64) -> dict[str, float]:
    encoder.encode(list(texts[:batch_size]), batch_size=batch_size)  # warm-up
    start = time.perf_counter()
    encoder.encode(list(texts), batch_size=batch_size)
    elapsed = time.perf_counter() - start
    return {
        "prompts_per_s": round(len(texts) / elapsed, 1),
        "seconds": round(elapsed, 2),
        "n": len(texts),
        "batch_size": batch_size,
    }


def cache_lookup(encoder: Encoder, texts: Sequence[str], *, repeats: int = 5) -> dict[str, Any]:
    """Fill a fresh cache with vectors for ``texts``, then time all-hit ``encode_cached`` calls."""
    unique = list(dict.fromkeys(texts))
    rng = np.random.default_rng(SEED)
    vectors = rng.standard_normal((len(unique), encoder.dim)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        with EmbeddingCache(encoder.encoder_id, encoder.dim, cache_dir=tmp) as cache:
            cache.put([text_key(t) for t in unique], vectors)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            out = encode_cached(_NoEncode(encoder), texts, cache_dir=tmp, show_progress=False)
            times.append(time.perf_counter() - start)
        size = sum(f.stat().st_size for f in Path(tmp).rglob("*.sqlite*"))
    assert out.shape == (len(texts), encoder.dim)
    return {
        "n_texts": len(texts),
        "first_s": round(times[0], 4),
        "median_s": round(statistics.median(times), 4),
        "repeats": repeats,
        "cache_file_mb": round(size / 2**20, 1),
    }


class _NoEncode:
    """Wraps an encoder and fails if the cache ever asks it to embed (all texts must hit)."""

    def __init__(self, inner: Encoder) -> None:
        self.encoder_id, self.dim = inner.encoder_id, inner.dim

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        raise AssertionError(f"cache miss on {len(texts)} texts during the lookup benchmark")


def timed(label: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    print(f"{label}: {result} ({time.perf_counter() - start:.1f}s)", flush=True)
    return result


def command_line(args: argparse.Namespace) -> str:
    """The command that reproduces this run (non-default options spelled out)."""
    parts = [COMMAND, f"--n-latency {args.n_latency}", f"--n-throughput {args.n_throughput}"]
    if args.threads:
        parts.append(f"--threads {args.threads}")
    if args.skip_st:
        parts.append("--skip-st")
    return " ".join(parts)


def run(args: argparse.Namespace) -> dict[str, Any]:
    threads = args.threads or len(os.sched_getaffinity(0))
    before = machine()
    lat_texts = sample_prompts(args.n_latency)
    thr_texts = sample_prompts(args.n_throughput, offset=args.n_latency)
    encoders: dict[str, Encoder] = {}
    start = time.perf_counter()
    onnx_encoder = MiniLMEncoder(num_threads=threads)
    encoders["minilm"] = onnx_encoder
    init = {"minilm": round(time.perf_counter() - start, 2)}
    if not args.skip_st:
        import torch

        torch.set_num_threads(threads)
        start = time.perf_counter()
        encoders["minilm-st"] = make_encoder("minilm-st")
        init["minilm-st"] = round(time.perf_counter() - start, 2)
    n_tokens = onnx_encoder.token_counts(lat_texts)
    results: dict[str, Any] = {
        "encoders": {},
        "latency_prompt_tokens": {
            "median": float(np.median(n_tokens)),
            "p90": float(np.percentile(n_tokens, 90)),
        },
    }
    for name, enc in encoders.items():
        results["encoders"][name] = {
            "encoder_id": enc.encoder_id,
            "init_s": init[name],
            "latency": timed(f"{name} latency", lambda e=enc: latency_ms(e, lat_texts, n_tokens)),
            "throughput": timed(f"{name} throughput", lambda e=enc: throughput(e, thr_texts)),
        }
    all_prompts = [str(p) for p in load_dataset("routerdc").prompts]
    results["cache_lookup"] = timed(
        "cache lookup", lambda: cache_lookup(encoders["minilm"], all_prompts)
    )
    results.update(
        command=command_line(args),
        threads=threads,
        machine=before,
        load_avg_after=[round(x, 2) for x in os.getloadavg()],
    )
    return results


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        "# Encoder speed (all-MiniLM-L6-v2)",
        "",
        f"Command: `{res['command']}`",
        "",
        (
            f"Machine: {m['cpu']}, {m['cores_available']} cores available, {m['platform']}, "
            f"Python {m['python']}, onnxruntime {m['onnxruntime']}; {res['threads']} threads for "
            f"both encoders. Load average (1/5/15 min) before: {m['load_avg_1_5_15']}, after: "
            f"{res['load_avg_after']}."
        ),
        "",
        (
            "The machine is shared by several engineers: when the load average exceeds the core "
            "count, other processes were using the CPU and the timings are pessimistic."
        ),
        "",
        (
            "| encoder | id | init (s) | latency p50 (ms) | p90 | p99 | throughput, batch 64 "
            "(prompts/s) |"
        ),
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, r in res["encoders"].items():
        lat, thr = r["latency"], r["throughput"]
        lines.append(
            f"| {name} | `{r['encoder_id']}` | {r['init_s']} | {lat['p50_ms']} | "
            f"{lat['p90_ms']} | {lat['p99_ms']} | {thr['prompts_per_s']} |"
        )
    c = res["cache_lookup"]
    first = next(iter(res["encoders"].values()))
    tok = res["latency_prompt_tokens"]
    lines += [
        "",
        "Single-prompt latency p50 (ms) by prompt length in tokens:",
        "",
        "| encoder | " + " | ".join(f"{lo}-{hi} tokens" for lo, hi in BUCKETS) + " |",
        "|---|" + "---:|" * len(BUCKETS),
    ]
    for name, r in res["encoders"].items():
        cells = []
        for lo, hi in BUCKETS:
            b = r["latency"]["p50_by_tokens"].get(f"{lo}-{hi}")
            cells.append(f"{b['p50_ms']} (n={b['n']})" if b else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        (
            f"Latency: one prompt per call, {first['latency']['n']} real RouterDC prompts "
            f"(seeded sample, median {tok['median']:g} tokens, p90 {tok['p90']:g}; after 20 "
            f"warm-up calls). Throughput: {first['throughput']['n']} other prompts."
        ),
        "",
        (
            f"Embedding cache: looking up {c['n_texts']} cached texts (all RouterDC prompts) "
            f"with `encode_cached` takes {c['median_s']} s (median of {c['repeats']}; first call "
            f"{c['first_s']} s); the SQLite file is {c['cache_file_mb']} MB."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-latency", type=int, default=500)
    parser.add_argument("--n-throughput", type=int, default=512)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads for both encoders (default: all available cores)",
    )
    parser.add_argument(
        "--skip-st", action="store_true", help="skip the sentence-transformers reference"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    res = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoder.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    (args.out / "encoder.md").write_text(markdown(res), encoding="utf-8")
    print(f"wrote {args.out / 'encoder.json'} and {args.out / 'encoder.md'}")


if __name__ == "__main__":
    main()
