"""Latency of routing one prompt with a trained RouterDC artifact, embedding included.

    nice -n 10 .venv/bin/python bench/routerdc_latency.py /tmp/routerdc-artifacts/frozen \
        --prompts 300 --out-dir docs/results

Each call embeds one RouterDC test prompt with the artifact's encoder (no cache; e.g. MiniLM on
onnxruntime with ``--threads``), applies the router and the selection rule. CPU time of the single-threaded call is the latency on
an idle core; wall time is reported too (the machine is shared). Writes
``<out-name>.{json,md}`` (default ``routerdc_latency``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routerdc_reproduce import measure_latency

from polyroute.data import load_dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artifact", help="folder written by router.save() / polyroute fit")
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--out-dir", default="docs/results")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads of the encoder")
    ap.add_argument("--out-name", default="routerdc_latency", help="file stem of the outputs")
    args = ap.parse_args(argv)
    ds = load_dataset("routerdc")
    test = [str(p) for p in ds.prompts[ds.splits["test"]]]
    rng = np.random.default_rng(0)
    picks = [test[i] for i in rng.permutation(len(test))]
    lat = measure_latency(Path(args.artifact), picks, args.prompts, args.threads)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.out_name}.json").write_text(json.dumps(lat, indent=2))
    cmd = "nice -n 10 .venv/bin/python bench/routerdc_latency.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    md = [
        f"`{cmd.strip()}`",
        "",
        "| what | p50 ms | p95 ms |",
        "|---|---:|---:|",
        (
            f"| CPU time per routed prompt (≈ idle-core latency) | {lat['cpu_p50_ms']:.2f} | "
            f"{lat['cpu_p95_ms']:.2f} |"
        ),
        (
            f"| router only (head + selection; embedding given), wall | "
            f"{lat['router_only_p50_ms']:.3f} | |"
        ),
        (
            f"| wall time on the shared machine (load {lat['load_average']:.1f}) | "
            f"{lat['p50_ms']:.2f} | {lat['p95_ms']:.2f} |"
        ),
        "",
        (
            f"{lat['n']} RouterDC test prompts routed one at a time; embedding ({lat['encoder']}, "
            f"{lat['threads']} thread(s), no cache) + RouterDC head + argmax selection. With more "
            "than one thread, CPU time exceeds latency: read the wall-time row."
        ),
    ]
    (out / f"{args.out_name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
