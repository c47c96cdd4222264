"""Which support signal tells prompts of a task the router never saw from prompts of its training tasks?

Leave-one-task-out on the *training* rows of each dataset: the reference set is a random 80% of the
training rows of every task but one; "in" prompts are the other 20% of those tasks' training rows,
"out" prompts are the held-out task's training rows. For each candidate signal (higher = better
covered) the AUROC of in vs out is averaged over held-out tasks (minimum in brackets).

Usage::

    nice -n 10 .venv/bin/python bench/shift_support.py --out docs/results
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

from polyroute.data import load_dataset
from polyroute.encoders import embed_dataset, make_encoder
from polyroute.routers._support import kmeans_reference, top_k_similarity

DATASETS = ("routerdc", "routerbench", "mmlu-pro", "llmrouter")


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    ranks = rankdata(np.concatenate([pos, neg]))
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def signals(ref: np.ndarray, Q: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    out = {f"nearest-{k}": top_k_similarity(Q, ref, k) for k in (1, 10, 50)}
    for n_cent in (64, 256):
        out[f"centroid-{n_cent}"] = top_k_similarity(Q, kmeans_reference(ref, n_cent, seed), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", default="minilm-static")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    names = args.datasets.split(",")
    enc = make_encoder(args.encoder)
    table: dict[str, dict[str, list[float]]] = {}
    for name in names:
        ds = load_dataset(name)
        if not ds.splits:
            ds = ds.random_split({"train": 0.6, "val": 0.1, "test": 0.3}, seed=0)
        X = embed_dataset(ds, enc, show_progress=False)
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        train = np.asarray(ds.splits["train"])
        rng = np.random.default_rng(0)
        tasks = ds.tasks[train]
        per: dict[str, list[float]] = {}
        for t in sorted(set(tasks.tolist())):
            other = train[tasks != t]
            perm = rng.permutation(len(other))
            cut = int(0.8 * len(other))
            ref, held = other[perm[:cut]], other[perm[cut:]]
            s_in = signals(X[ref], X[held], 0)
            s_out = signals(X[ref], X[train[tasks == t]], 0)
            for key in s_in:
                per.setdefault(key, []).append(auroc(s_in[key], s_out[key]))
        table[name] = per
        print(name, {k: round(float(np.mean(v)), 3) for k, v in per.items()}, flush=True)
    if args.out:
        out = Path(args.out)
        (out / "shift_support.json").write_text(json.dumps(table, indent=2))
        keys = list(next(iter(table.values())))
        lines = [
            "# Support signals: in-task vs unseen-task prompts (AUROC, leave-one-task-out on train)",
            "",
            "Command: `nice -n 10 .venv/bin/python bench/shift_support.py --out docs/results"
            + (f" --datasets {args.datasets}`" if names != list(DATASETS) else "`"),
            "",
            __doc__.split("\n\n")[1].replace("\n", " "),
            "",
            "| signal | " + " | ".join(names) + " |",
            "| --- |" + " ---: |" * len(names),
        ]
        for k in keys:
            cells = [f"{np.mean(table[d][k]):.3f} ({np.min(table[d][k]):.2f})" for d in names]
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        (out / "shift_support.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
