"""Build the shipped ``minilm-static`` table and measure it against the float32 table.

The shipped table (``src/polyroute/assets/minilm_static/``) is the default recipe's table (PCA
256, Zipf weights, whole vocabulary) distilled from all-MiniLM-L6-v2 on onnxruntime (graph
exported with torch: needs the ``train`` extra) and stored as float16. This script

1. with ``--build``: distils (or reads from the cache) the float32 table and writes the assets;
2. always: embeds real prompts with the shipped encoder and with the float32 table and reports
   the cosine and the largest absolute difference per vector, and how often the shipped default
   router (which uses ``minilm-static``) ranks another model first on the same prompts.

Run (from the repository root, with the train extra):
    python bench/minilm_static_asset.py [--build] [--n 500] [--data-dir ../shared/data]
Writes docs/results/minilm_static_asset.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from polyroute.data import load_dataset
from polyroute.encoders import StaticMiniLMEncoder
from polyroute.encoders._minilm import default_model_dir
from polyroute.encoders._static_asset import asset_dir, write_shipped
from polyroute.encoders._static_distil import StaticTable
from polyroute.engine import builtin_router_path
from polyroute.routers import load_router

ROOT = Path(__file__).resolve().parents[1]


def real_prompts(data_dir: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` prompts: half RouterBench (all splits), half RouterDC (all tasks), seeded picks."""
    rng = np.random.default_rng(seed)
    picked: list[str] = []
    for name, count in (("routerbench", n // 2), ("routerdc", n - n // 2)):
        prompts = load_dataset(name, data_dir=data_dir).prompts
        picked.extend(prompts[rng.choice(len(prompts), count, replace=False)].tolist())
    return picked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="rewrite the shipped assets")
    parser.add_argument("--n", type=int, default=500, help="real prompts to compare (500)")
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()

    # an explicit model_dir never uses the shipped table: this is the float32 distillation
    weights = default_model_dir()
    start = time.perf_counter()
    reference = StaticMiniLMEncoder(weights)
    distil_s = time.perf_counter() - start
    if args.build:
        table = StaticTable(reference._vectors, reference._fallback, None)
        write_shipped(table, weights / "tokenizer.json", asset_dir())
    start = time.perf_counter()
    shipped = StaticMiniLMEncoder()
    load_s = time.perf_counter() - start
    assert shipped.model_dir is None, "the default encoder must use the shipped table"

    prompts = real_prompts(args.data_dir, args.n)
    ref = reference.encode(prompts)
    got = shipped.encode(prompts)
    cosine = np.sum(ref * got, axis=1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))
    abs_diff = np.abs(ref - got).max(axis=1)
    router = load_router(builtin_router_path())
    scores_ref, scores_got = router.predict_scores(ref), router.predict_scores(got)
    top_changed = int(np.sum(scores_ref.argmax(1) != scores_got.argmax(1)))
    files = {p.name: p.stat().st_size for p in sorted(asset_dir().iterdir())}
    result = {
        "command": "python bench/minilm_static_asset.py " + shlex.join(sys.argv[1:]),
        "prompts": len(prompts),
        "prompt_sources": "routerbench (all splits) and routerdc (all tasks), half each, seed 0",
        "cosine_min": float(cosine.min()),
        "cosine_mean": float(cosine.mean()),
        "max_abs_diff": float(abs_diff.max()),
        "mean_max_abs_diff": float(abs_diff.mean()),
        "router_score_max_abs_diff": float(np.abs(scores_ref - scores_got).max()),
        "router_top_model_changed": top_changed,
        "shipped_files_bytes": files,
        "float32_table_s": round(distil_s, 3),
        "shipped_table_load_s": round(load_s, 3),
        "python": platform.python_version(),
    }
    out = ROOT / "docs" / "results"
    (out / "minilm_static_asset.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| `{k}` | {v} |" for k, v in result.items() if k != "command")
    (out / "minilm_static_asset.md").write_text(
        "# Shipped `minilm-static` table (float16) against the float32 distillation\n\n"
        "The lean install embeds with the table shipped in `src/polyroute/assets/minilm_static/`"
        " (no torch). Today's vectors come from the float32 table distilled from all-MiniLM-L6-v2"
        " (`StaticMiniLMEncoder(<weights dir>)`). Same prompts, same tokenizer.\n\n"
        f"Command: `{result['command']}`\n\n| quantity | value |\n|---|---|\n{rows}\n"
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
