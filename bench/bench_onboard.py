"""Compute cost of onboarding a model from 400 graded validation prompts (LLM calls excluded).

Fits a router (``--router``: the UniRoute ``uniroute-kmeans``, or ``routerdc``) on RouterBench train
(minilm embeddings) without one model, then times adding that model back from its real recorded
outcomes on 400 validation prompts:

* ``profile``: ``onboard_model`` (cluster assignment of the 400 prompts + profile + add to router),
* ``save``: writing the router directory (atomic replace),
* ``embed_cached``: embedding the 400 prompts through the on-disk cache (already cached),
* ``embed_cold``: embedding them with the encoder itself (no cache).

Usage::

    nice -n 10 .venv/bin/python bench/bench_onboard.py   # -> docs/results/onboard.{json,md}
    nice -n 10 .venv/bin/python bench/bench_onboard.py --router routerdc  # -> onboard_routerdc.*
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.cli._onboard import save_atomic
from polyroute.data import load_dataset
from polyroute.encoders import encode_cached, make_encoder
from polyroute.onboarding import Outcome, onboard_model
from polyroute.routers import make_router

OUT = Path(__file__).resolve().parents[1] / "docs" / "results"
HELD_OUT = "gpt-4-1106-preview"
DEFAULT_PARAMS = {  # uniroute: the shipped artifact's settings; routerdc: its defaults
    "uniroute-kmeans": {
        "n_clusters": "multi",
        "smoothing": "shrink",
        "assignment": "soft",
        "cluster_grid": (4, 8, 16, 32),
    },
    "routerdc": {"show_progress": False},
}


PROFILE_STEP = {
    "uniroute-kmeans": (
        "cluster assignment of the prompts + per-cluster error counts + smoothing + adding the row"
    ),
    "routerdc": (
        "embedding the prompts through the head + fitting the new LLM's embedding and "
        "calibration offset (300 Adam steps) + its cluster profile"
    ),
}


def _time(fn: Callable[[], Any], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
    }


def run(
    router_name: str, n_prompts: int, repeats: int, router_params: dict[str, Any]
) -> dict[str, Any]:
    ds = load_dataset("routerbench")
    encoder = make_encoder("minilm")
    train = ds.splits["train"]
    X = encode_cached(encoder, [str(p) for p in ds.prompts[train]])
    keep = [m for m in ds.model_names if m != HELD_OUT]
    cols = ds.model_indices(keep)
    router = make_router(router_name, random_state=0, **router_params)
    router.fit(X, ds.scores[train][:, cols], model_names=keep)
    router.encoder_ = "minilm"
    rows = np.sort(np.random.default_rng(0).choice(train, n_prompts, replace=False))
    texts = [str(p) for p in ds.prompts[rows]]
    ids = [str(i) for i in ds.prompt_ids[rows]]
    y = ds.scores[rows, ds.model_indices([HELD_OUT])[0]]
    outcomes = [
        Outcome(pid, HELD_OUT, float(s)) for pid, s in zip(ids, y, strict=True) if np.isfinite(s)
    ]
    X_val = encode_cached(encoder, texts)  # warm the cache for these prompts

    def profile() -> None:
        r = router.__class__(**router.get_params())
        r.__dict__.update(
            {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in router.__dict__.items()}
        )
        onboard_model(r, HELD_OUT, X_val, outcomes, prompt_ids=ids, cost=0.01)

    with tempfile.TemporaryDirectory() as tmp:
        router.save(tmp)
        timings = {
            "profile": _time(profile, repeats),
            "save": _time(lambda: save_atomic(router, tmp), repeats),
            "embed_cached": _time(lambda: encode_cached(encoder, texts), repeats),
            "embed_cold": _time(lambda: encoder.encode(texts), max(1, repeats // 3)),
        }
    med = {k: v["median_s"] for k, v in timings.items()}
    return {
        "n_prompts": n_prompts,
        "router": {"name": router_name, **router_params},
        "held_out_model": HELD_OUT,
        "timings": timings,
        "totals_s": {
            "onboard_excluding_embedding": med["profile"] + med["save"],
            "onboard_with_cached_embedding": med["profile"] + med["save"] + med["embed_cached"],
            "onboard_with_cold_embedding": med["profile"] + med["save"] + med["embed_cold"],
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
            "python": platform.python_version(),
        },
    }


def write(result: dict[str, Any], command: str, stem: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{stem}.json").write_text(json.dumps(result, indent=2))
    t, tot = result["timings"], result["totals_s"]
    lines = [
        "# Onboarding compute cost (LLM calls excluded)",
        "",
        f"Command: `{command}`",
        "",
        (
            f"Onboard `{result['held_out_model']}` into a `{result['router']['name']}` router "
            f"fitted on RouterBench train without it, from its real recorded outcomes on "
            f"{result['n_prompts']} validation prompts. Median of repeats; machine: "
            f"{result['machine']['cpus']} CPUs, shared and busy (1-min load "
            f"{result['machine']['load_avg_1m']:.1f} at the end)."
        ),
        "",
        "| step | median (s) | min (s) | max (s) |",
        "|---|---:|---:|---:|",
        *(
            f"| {k} | {v['median_s']:.4f} | {v['min_s']:.4f} | {v['max_s']:.4f} |"
            for k, v in t.items()
        ),
        "",
        "| total | seconds |",
        "|---|---:|",
        *(f"| {k} | {v:.4f} |" for k, v in tot.items()),
        "",
        (
            f"`profile` = {PROFILE_STEP[result['router']['name']]} (on a copy, then applied). "
            "`embed_cached` reads the on-disk embedding cache; `embed_cold` runs the minilm ONNX "
            "encoder on the 400 prompts."
        ),
    ]
    (OUT / f"{stem}.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-prompts", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--router", choices=sorted(DEFAULT_PARAMS), default="uniroute-kmeans")
    parser.add_argument("--router-params", help="JSON (default: see DEFAULT_PARAMS)")
    args = parser.parse_args()
    params = (
        DEFAULT_PARAMS[args.router]
        if args.router_params is None
        else json.loads(args.router_params)
    )
    if "cluster_grid" in params:
        params["cluster_grid"] = tuple(params["cluster_grid"])
    result = run(args.router, args.n_prompts, args.repeats, params)
    default = args.router == "uniroute-kmeans"
    command = "nice -n 10 .venv/bin/python bench/bench_onboard.py"
    write(
        result,
        command if default else f"{command} --router {args.router}",
        "onboard" if default else f"onboard_{args.router}",
    )
    print(json.dumps(result["totals_s"], indent=2))


if __name__ == "__main__":
    main()
