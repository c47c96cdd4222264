"""Build the default router artifact shipped in ``src/polyroute/assets/default_router/``.

A ``uniroute-kmeans`` router fitted on RouterBench train (11 LLMs) with minilm-static
embeddings and the safe rule (``safety``, default 0.9: low support falls back to the best overall
model; the training prompts it keeps for support are float16, about 1 MB), every model's per-query USD cost (mean over train) stored in its profile, and the
validation set new models are onboarded with (``validation.jsonl.gz``: ARC-Challenge +
Winogrande prompts held out of the fit, with reference letters).

Usage::

    nice -n 10 .venv/bin/python bench/uniroute_artifact.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from polyroute.data import load_dataset
from polyroute.encoders import encode_cached, make_encoder
from polyroute.onboarding import write_validation_set
from polyroute.onboarding._validation import VALIDATION_FILE, dataset_validation_set
from polyroute.routers import load_router, make_router

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "src" / "polyroute" / "assets" / "default_router"
PARAMS = {
    "n_clusters": "multi",
    "smoothing": "shrink",
    "assignment": "soft",
    "cluster_grid": [4, 8, 16, 32],
    "random_state": 0,
}


def build(target: Path, *, encoder_name: str, n_validation: int, params: dict) -> dict:
    ds = load_dataset("routerbench")
    items = dataset_validation_set("routerbench", split="train", n_prompts=n_validation, seed=0)
    held = {it.prompt_id for it in items}
    train = np.array([r for r in ds.splits["train"] if str(ds.prompt_ids[r]) not in held])
    encoder = make_encoder(encoder_name)
    X = encode_cached(encoder, [str(p) for p in ds.prompts[train]])
    router = make_router("uniroute-kmeans", **params)
    # tasks: the support scale of the safe rule is calibrated leave-one-task-out on them
    router.fit(X, ds.scores[train], model_names=list(ds.model_names), tasks=list(ds.tasks[train]))
    router.encoder_ = encoder_name
    router.model_costs_ = np.nanmean(ds.costs[train], axis=0)
    router.cost_unit_ = ds.cost_unit
    target.mkdir(parents=True, exist_ok=True)
    router.save(target)
    write_validation_set(target / VALIDATION_FILE, items)
    load_router(target)  # round-trip check
    sizes = {p.name: p.stat().st_size for p in sorted(target.iterdir())}
    return {
        "n_train_prompts": len(train),
        "n_validation_prompts": len(items),
        "n_clusters": router.n_clusters_,
        "encoder": encoder_name,
        "file_bytes": sizes,
        "params": params,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(TARGET))
    parser.add_argument("--encoder", default="minilm-static")
    parser.add_argument("--n-validation", type=int, default=300)
    parser.add_argument("--params", default=json.dumps(PARAMS), help="router params (JSON)")
    args = parser.parse_args()
    params = json.loads(args.params)
    if "cluster_grid" in params:
        params["cluster_grid"] = tuple(params["cluster_grid"])
    info = build(
        Path(args.out), encoder_name=args.encoder, n_validation=args.n_validation, params=params
    )
    print(json.dumps(info, indent=2, default=str))


if __name__ == "__main__":
    main()
