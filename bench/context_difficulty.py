"""Learned difficulty: fit the shipped predictor and measure it on held-out prompts per dataset.

Difficulty of a prompt = mean over the dataset's models of (1 - score): for 0/1 scores, the share
of models that fail it. Held-out prompts: those whose text hashes into bucket 0 of 5 (blake2b),
the same rule in every dataset, so a prompt that two datasets share verbatim (MMLU-Pro's two model
pools) is held out in both. One predictor for all datasets, on the router's embedding
(minilm-static) plus four text features. The model family (ridge or a one-hidden-layer MLP) and
the target (absolute, or centred per dataset plus the overall mean) are chosen on a validation
split of the *training* prompts (hash bucket 1 of 4 among them), by the mean within-dataset
Spearman rho; the chosen one is refitted on all training prompts. Reported per dataset: Spearman
rho of the prediction, and of prompt length, with the true difficulty on held-out prompts, and
the share of held-out prompts with a near-duplicate (cosine >= 0.95) among training prompts.

    .venv/bin/python bench/context_difficulty.py          # writes docs/results/contextual_difficulty.json
    .venv/bin/python bench/context_difficulty.py --ship   # also rewrites the shipped model
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import spearmanr
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor

from polyroute.context import DifficultyModel, text_features
from polyroute.data import load_dataset
from polyroute.encoders import make_encoder

ROOT = Path(__file__).resolve().parents[1]
DATASETS = (
    "routerdc",
    "routerbench",
    "mmlu-pro",
    "mmlu-pro-openllm",
    "routellm-mmlu",
    "routellm-gsm8k",
    "routellm-mtbench",
    "llmrouter",
)
SHIPPED = ROOT / "src/polyroute/assets/default_router"
CANDIDATES = {
    "ridge": lambda: Ridge(alpha=10.0),
    "mlp-128": lambda: MLPRegressor(
        hidden_layer_sizes=(128,), alpha=1e-3, max_iter=60, early_stopping=True, random_state=0
    ),
}


def bucket(text: str, byte: int, n: int) -> int:
    return hashlib.blake2b(text.encode(), digest_size=8).digest()[byte] % n


def to_model(
    est: Any, shift: np.ndarray, scale: np.ndarray, offset: float, enc: str
) -> DifficultyModel:
    if isinstance(est, Ridge):
        weights, biases = [est.coef_[:, None]], [np.array([est.intercept_ + offset])]
    else:
        weights, biases = list(est.coefs_), list(est.intercepts_)
        biases[-1] = biases[-1] + offset
    return DifficultyModel(weights, biases, shift, scale, encoder=enc)


def fit(
    kind: str, centred: bool, parts: dict[str, dict[str, Any]], rows: str, enc: str
) -> DifficultyModel:
    F = np.concatenate([p["F"][p[rows]] for p in parts.values()])
    ys = [p["y"][p[rows]] for p in parts.values()]
    y = np.concatenate(ys)
    offset = float(y.mean()) if centred else 0.0
    if centred:
        y = np.concatenate([v - v.mean() for v in ys])
    shift, scale = F.mean(axis=0), F.std(axis=0) + 1e-6
    est = CANDIDATES[kind]().fit((F - shift) / scale, y)
    return to_model(est, shift, scale, offset, enc)


def rho(model: DifficultyModel, p: dict[str, Any], rows: np.ndarray) -> float:
    texts = [p["texts"][i] for i in np.flatnonzero(rows)]
    return float(spearmanr(model.predict(p["X"][rows], texts), p["y"][rows]).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--encoder", default="minilm-static")
    ap.add_argument("--ship", action="store_true", help=f"write the fitted model to {SHIPPED}")
    ap.add_argument("--out", default=str(ROOT / "docs/results/contextual_difficulty.json"))
    args = ap.parse_args()
    enc = make_encoder(args.encoder)
    parts: dict[str, dict[str, Any]] = {}
    for name in DATASETS:
        ds = load_dataset(name)
        texts = [str(p) for p in ds.prompts]
        y = np.nanmean(1.0 - np.asarray(ds.scores, dtype=np.float64), axis=1)
        X = np.asarray(enc.encode(texts), dtype=np.float32)
        ok = ~np.isnan(y)
        test = np.array([bucket(t, 0, 5) == 0 for t in texts]) & ok
        val = np.array([bucket(t, 1, 4) == 0 for t in texts]) & ok & ~test
        parts[name] = {
            "texts": texts,
            "X": X,
            "y": y,
            "F": np.hstack([X, text_features(texts)]),
            "test": test,
            "train": ok & ~test,
            "fit": ok & ~test & ~val,
            "val": val,
            "length": np.array([len(t) for t in texts]),
            "n_models": ds.n_models,
        }
        print(f"{name}: {len(texts)} prompts, {test.sum()} held out", flush=True)
    selection = {}
    for kind in CANDIDATES:
        for centred in (False, True):
            t = time.perf_counter()
            m = fit(kind, centred, parts, "fit", args.encoder)
            score = float(np.mean([rho(m, p, p["val"]) for p in parts.values()]))
            selection[f"{kind}{'-centred' if centred else ''}"] = round(score, 4)
            print(
                f"validation {kind} centred={centred}: mean rho {score:.3f} ({time.perf_counter() - t:.0f}s)",
                flush=True,
            )
    best = max(selection, key=lambda k: selection[k])
    kind, centred = best.removesuffix("-centred"), best.endswith("-centred")
    model = fit(kind, centred, parts, "train", args.encoder)
    with tempfile.TemporaryDirectory() as tmp:  # measure what ships: the float16 round trip
        model.save(tmp)
        model = DifficultyModel.load(tmp)
    X_tr = np.concatenate([p["X"][p["train"]] for p in parts.values()])
    rows = {}
    for name, p in parts.items():
        t = p["test"]
        near = (p["X"][t] @ X_tr.T).max(axis=1) >= 0.95
        rows[name] = {
            "n_models": p["n_models"],
            "n_test": int(t.sum()),
            "spearman_difficulty": round(rho(model, p, t), 4),
            "spearman_length": round(float(spearmanr(p["length"][t], p["y"][t]).statistic), 4),
            "near_duplicate_share": round(float(near.mean()), 4),
            "spearman_difficulty_without_near_duplicates": round(
                rho(model, p, t & ~np.isin(np.arange(len(t)), np.flatnonzero(t)[near])), 4
            ),
        }
        print(name, rows[name], flush=True)
    result = {
        "command": "python bench/context_difficulty.py --ship",
        "encoder": args.encoder,
        "n_train": int(sum(p["train"].sum() for p in parts.values())),
        "validation_mean_rho": selection,
        "chosen": best,
        "datasets": rows,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    if args.ship:
        model.meta.update(
            {"model": best, "datasets": list(DATASETS), "fitted_by": result["command"]}
        )
        model.save(SHIPPED)
        print("wrote", SHIPPED)


if __name__ == "__main__":
    main()
