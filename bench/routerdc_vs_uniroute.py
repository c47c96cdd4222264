"""RouterDC's new-LLM path against UniRoute on the unseen-LLM protocol (paired by trial seed).

Reads the RouterDC trials (``docs/results/routerdc_vs_uniroute_<dataset>.trials.jsonl``, written
by ``bench/uniroute_protocol.py --methods routerdc,routerdc-prior``) and the stored UniRoute
trials (``docs/results/uniroute_<dataset>.trials*.jsonl``), keeps the seeds present in both, and
writes docs/results/routerdc_vs_uniroute.{md,json}: per N_val, mean Area, wins / losses / ties
with a two-sided sign test against K-NN and against ``uniroute-multi``, the share of the K-NN ->
clairvoyant gap closed, and wall time per trial. ``--timing`` adds a JSONL of trials re-run with
both routers under the same machine load (its Areas are checked against the stored ones).
``--leak-check SEED`` re-runs one trial with every label RouterDC may not see set to NaN and
checks that its predictions are unchanged.

Usage::

    nice -n 10 .venv/bin/python bench/routerdc_vs_uniroute.py --dataset mmlu-pro \\
        --timing docs/results/routerdc_vs_uniroute_mmlu-pro.timing.jsonl --leak-check 0 \\
        --diagnose 5
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import uniroute_protocol as protocol
import uniroute_report as report

RESULTS = protocol.RESULTS
ROWS = [
    "clairvoyant-mlp",
    "zero-router",
    "val-mean",
    "knn",
    "uniroute-multi",
    "routerdc",
    "routerdc-prior",
    "routerdc-tasks",
    "routerdc-prior-tasks",
]
RDC = ("routerdc", "routerdc-prior", "routerdc-tasks", "routerdc-prior-tasks")
REFERENCES = ("knn", "uniroute-multi")
COMMANDS = """\
```bash
nice -n 10 .venv/bin/python bench/uniroute_protocol.py --dataset {d} --encoder {e} \\
    --trials {n} --first-seed 0 --n-val {nv} --methods routerdc,routerdc-prior \\
    --out docs/results/routerdc_vs_uniroute_{d}.trials.jsonl
nice -n 10 .venv/bin/python bench/uniroute_protocol.py --dataset {d} --encoder {e} \\
    --trials {n} --first-seed 0 --n-val {nv} --methods routerdc-tasks,routerdc-prior-tasks \\
    --out docs/results/routerdc_vs_uniroute_{d}.trials.tasks.jsonl
nice -n 10 .venv/bin/python bench/uniroute_protocol.py --dataset {d} --encoder {e} \\
    --trials 5 --first-seed 0 --n-val {nv} --methods knn,uniroute-multi,routerdc,routerdc-prior \\
    --out docs/results/routerdc_vs_uniroute_{d}.timing.jsonl    # same-load timing
nice -n 10 .venv/bin/python bench/routerdc_vs_uniroute.py --dataset {d} \\
    --timing docs/results/routerdc_vs_uniroute_{d}.timing.jsonl --leak-check 0 --diagnose 5
```
(The UniRoute, K-NN, clairvoyant and val-mean rows are the stored trials of
[uniroute.md](uniroute.md), same encoder, seeds and splits.)"""


SETUP = """\
**Setup.** The protocol of [uniroute.md](uniroute.md) (per trial: prompts 60/10/30 train/val/test,
1/3 of the LLMs unseen; routing among the unseen LLMs only; Area = area under the deferral curve;
gap closed = (mean Area − K-NN's) / (clairvoyant's − K-NN's); W/L/T and the two-sided sign test
are paired by trial seed, ties dropped). RouterDC = `ContrastiveRouter` (registry `routerdc`) with
its defaults (`n_steps=1000`, batch 64, 10% of train held out for checkpoint selection, K-means
`n_clusters=5`; steps not reduced) on the trial's frozen all-MiniLM-L6-v2 vectors: `fit` on the
train prompts with the **seen** LLMs' labels only, then `add_models` (defaults: 300 Adam steps,
lr 0.05; fits each unseen LLM's embedding and logistic offset, keeping the trained LLMs'
calibration slope) on the N_val validation prompts, then `predict_scores` on the test prompts,
columns of the unseen LLMs.
`routerdc`: `prior_weight=0` (the paper's similarity rule, calibrated); `routerdc-prior`:
`prior_weight=1.0` (our best ID setting: the score is then only the cluster prior
`P(c|x)·Q̄[c, m]`, with each new LLM's `Q̄` its soft per-cluster mean on the N_val prompts,
shrunk to its overall mean with strength 10). The protocol gives methods no task names, so
`cluster_source="auto"` falls back to K-means on X, like UniRoute's clusters; the `-tasks`
variants (a separate, secondary run) pass the train prompts' MMLU-Pro category names (14) as the
training clusters, information no UniRoute row uses. Both variants of a pair share one `fit` per
trial (`prior_weight` only enters `predict_scores`). Nothing was tuned: no RouterDC parameter was
changed from its default, on dev or test."""

FINDINGS = """\
## Findings (numbers from the tables and checks above; 100 paired trials per N_val)

* **UniRoute is the better way to add LLMs to a pool.** `uniroute-multi` beats every RouterDC
  variant at every N_val (sign test p ≤ 0.057, mostly far below).
* **`routerdc-prior` (prior_weight = 1) beats K-NN but not UniRoute.** Wins vs K-NN 68 / 65 / 58
  of 100 at N_val = 100 / 200 / 400, vs `uniroute-multi` 33 / 35 / 29; gap closed 44% / 25% / 15%
  against `uniroute-multi`'s 58% / 44% / 50%. With w = 1 the score ignores the LLM embeddings:
  it is a 5-cluster, soft-assignment, shrunk UniRoute in RouterDC's learned space, and
  UniRoute's own multi-resolution clusters do better.
* **The paper's rule (`routerdc`, similarity + calibration) adds no per-prompt signal for new
  LLMs.** Area 0.5474 / 0.5587 / 0.5663: at or below K-NN (41 / 34 / 47 wins of 100, p = 0.089
  / 0.0018 / 0.62) and below `val-mean` (each new LLM's mean validation score, no per-prompt
  information) at N_val = 100 / 200.
* **`add_models` was fixed on `--dev` before this run.** It used to fit a free calibration slope
  per new LLM, which memorised small validation sets: median slope 72 against the trained
  LLMs' 0.85 at N_val = 100, log loss 0.21 on its own prompts vs 2.21 held out. Area was
  0.4701 / 0.5269 / 0.5635, with 0 / 3 / 40 wins of 100 vs K-NN (commit 16b5e29 of this file).
  New LLMs now keep the trained LLMs' slope. The dev diagnostic in Checks shows log loss 0.55 on
  its own prompts vs 0.63 held out at N_val = 100. The alternative, a free slope with the number
  of steps chosen on a held-out fifth, did worse on the 10 dev trials (0.519 vs 0.549 at
  N_val = 100).
* **Task names as clusters** (`-tasks`, information no UniRoute row gets) help the prior at
  N_val = 100 (76/100 vs K-NN, 48% of the gap) and not at 200 / 400. They still trail
  `uniroute-multi` (37 / 32 / 40 wins). They hurt the paper's rule (29 / 21 / 24 wins vs K-NN).
* **Wall time per trial** (1 thread, median):
  * RouterDC: fit + first `add_models` + scoring takes 4.1 s, and each further `add_models`
    0.8 s. The `-prior` variant reuses the fit.
  * `uniroute-multi`: fit + profiling takes 2.1 s, and each further N_val 0.1 s.
  * K-NN: 0.1 s.
* **Leakage check.** Seed 0 was re-run with every label RouterDC may not see set to NaN: the
  unseen LLMs outside the N_val prompts, and the seen LLMs outside train. All its predictions
  stayed bit-identical."""


def _paired(a: np.ndarray, b: np.ndarray) -> dict[str, Any]:
    d = a - b
    wins, losses = int((d > 1e-12).sum()), int((d < -1e-12).sum())
    p = float(binomtest(wins, wins + losses).pvalue) if wins + losses else 1.0
    return {
        "wins": wins,
        "losses": losses,
        "ties": len(d) - wins - losses,
        "sign_test_p": p,
        "mean_diff": float(d.mean()),
    }


def _seconds(records: list[dict[str, Any]], method: str) -> dict[str, float] | None:
    """Median wall s per trial: first N_val (includes any fit) and each later N_val."""
    first, later = [], []
    for r in records:
        times = [r["time_s"][k].get(method) for k in sorted(r.get("time_s", {}), key=int)]
        if times and times[0] is not None:
            first.append(times[0])
            later += [t for t in times[1:] if t is not None]
    if not first:
        return None
    return {
        "first_nval_s": float(np.median(first)),
        "later_nval_s": float(np.median(later)) if later else float("nan"),
        "n_trials": len(first),
    }


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for n_val in sorted({k for r in records for k in r["results"]}, key=int):
        recs = [
            r["results"][n_val]
            for r in records
            if all(m in r["results"].get(n_val, {}) for m in ("knn", "routerdc"))
        ]
        methods = [m for m in ROWS if recs and all(m in r for r in recs)]
        area = {m: np.array([r[m]["area"] for r in recs]) for m in methods}
        gap = float(area["clairvoyant-mlp"].mean() - area["knn"].mean())
        rows: dict[str, Any] = {}
        for m in methods:
            row: dict[str, Any] = {
                "area_mean": float(area[m].mean()),
                "area_std": float(area[m].std()),
            }
            for ref in REFERENCES:
                if m != ref and ref in area:
                    row[f"vs_{ref}"] = _paired(area[m], area[ref])
            row["gap_closed"] = float((area[m].mean() - area["knn"].mean()) / gap)
            rows[m] = row
        out[n_val] = {"n_trials": len(recs), "methods": rows}
    return out


def _check_pairing(rdc: list[dict[str, Any]], stored: dict[int, dict[str, Any]]) -> float:
    """Max |ΔArea| of the zero-router between the two runs: 0 when the splits are identical."""
    diffs = [
        abs(
            r["results"][k]["zero-router"]["area"]
            - stored[r["seed"]]["results"][k]["zero-router"]["area"]
        )
        for r in rdc
        if r["seed"] in stored
        for k in r["results"]
    ]
    return float(max(diffs, default=0.0))


def _check_timing_areas(timing: list[dict[str, Any]], stored: dict[int, dict[str, Any]]) -> float:
    """Max |ΔArea| between the re-timed trials and the stored ones (determinism check)."""
    diffs = [
        abs(res["area"] - stored[r["seed"]]["results"][k][m]["area"])
        for r in timing
        if r["seed"] in stored
        for k, block in r["results"].items()
        for m, res in block.items()
        if m in stored[r["seed"]]["results"].get(k, {})
    ]
    return float(max(diffs, default=0.0))


def leak_check(dataset: str, encoder: str, seed: int, n_vals: list[int]) -> dict[str, Any]:
    """Predictions with every label RouterDC may not see set to NaN must not change."""
    ds, X = protocol.load(dataset, encoder)
    out: dict[str, Any] = {"seed": seed, "n_vals": n_vals, "max_abs_diff": {}}
    for n_val in n_vals:
        full = protocol.make_trial(ds, X, seed, dev=False, n_val_max=max(n_vals))
        masked = protocol.make_trial(ds, X, seed, dev=False, n_val_max=max(n_vals))
        val = full.val[:n_val]
        keep = np.zeros(full.Y.shape, dtype=bool)
        keep[np.ix_(full.train, full.seen)] = True
        keep[np.ix_(val, full.unseen)] = True
        masked.Y = np.where(keep, full.Y, np.nan)
        for m in RDC:
            a, b = protocol.METHODS[m](full, val), protocol.METHODS[m](masked, val)
            out["max_abs_diff"][f"{m}@{n_val}"] = float(np.abs(a - b).max())
    return out


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    return float(-np.nanmean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def diagnose(dataset: str, encoder: str, n_trials: int, n_vals: list[int]) -> dict[str, Any]:
    """``--dev`` trials (seeds 10000+): the slope ``a`` of each unseen LLM's calibration fitted
    by ``add_models`` and the log loss on the N_val prompts it was fitted on vs on the held-out
    dev prompts (the ``evaluate`` rows of a ``--dev`` trial), for both cluster sources."""
    ds, X = protocol.load(dataset, encoder)
    out: dict[str, Any] = {"n_trials": n_trials}
    for method in ("routerdc", "routerdc-tasks"):
        rows: dict[str, dict[str, list[float]]] = {
            str(n): {"slope": [], "ll_fit": [], "ll_held": []} for n in n_vals
        }
        for seed in range(10_000, 10_000 + n_trials):
            t = protocol.make_trial(ds, X, seed, dev=True, n_val_max=max(n_vals))
            protocol.METHODS[method](t, t.val[: min(n_vals)])  # fills t.cache with the fit
            fitted = next(v for k, v in t.cache.items() if k.startswith("routerdc"))
            k = len(t.seen)
            for n_val in n_vals:
                router, val = protocol._copy(fitted), t.val[:n_val]
                router.add_models(t.X[val], t.Y[val][:, t.unseen], [f"u{i}" for i in t.unseen])
                acc = rows[str(n_val)]
                acc["slope"] += router.calibration_[k:, 0].tolist()
                for key, r in (("ll_fit", val), ("ll_held", t.evaluate)):
                    acc[key].append(
                        _log_loss(router.predict_scores(t.X[r])[:, k:], t.Y[r][:, t.unseen])
                    )
        out[method] = {
            "trained_llms_slope": float(fitted.calibration_[0, 0]),
            "per_nval": {
                n: {
                    "median_slope": float(np.median(v["slope"])),
                    "max_slope": float(np.max(v["slope"])),
                    "log_loss_fit_prompts": float(np.mean(v["ll_fit"])),
                    "log_loss_held_out": float(np.mean(v["ll_held"])),
                }
                for n, v in rows.items()
            },
        }
    return out


def _fmt_paired(r: dict[str, Any], ref: str) -> tuple[str, str]:
    p = r.get(f"vs_{ref}")
    if p is None:
        return "—", "—"
    return f"{p['wins']}/{p['losses']}/{p['ties']}", f"{p['sign_test_p']:.2g}"


def table(summary: dict[str, Any]) -> list[str]:
    lines = []
    for n_val, block in summary.items():
        lines += [
            f"**N_val = {n_val}** ({block['n_trials']} paired trials)",
            "",
            (
                "| method | Area (mean ± std) | vs K-NN W/L/T | p | vs uniroute-multi W/L/T | "
                "p | K-NN→clairvoyant gap closed |"
            ),
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for m, r in block["methods"].items():
            (wk, pk), (wu, pu) = _fmt_paired(r, "knn"), _fmt_paired(r, "uniroute-multi")
            name = f"**{m}**" if m.startswith("routerdc") else m
            lines.append(
                f"| {name} | {r['area_mean']:.4f} ± {r['area_std']:.4f} | {wk} | {pk} | "
                f"{wu} | {pu} | {r['gap_closed']:.0%} |"
            )
        lines.append("")
    return lines


def timing_table(timing: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        (
            "| method | source | trials | s at first N_val (fit + onboard + score) | "
            "s per further N_val (onboard + score) |"
        ),
        "|---|---|---:|---:|---:|",
    ]
    for source, block in timing.items():
        for m, t in block.items():
            lines.append(
                f"| {m} | {source} | {t['n_trials']} | {t['first_nval_s']:.1f} | "
                f"{t['later_nval_s']:.1f} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mmlu-pro")
    parser.add_argument("--timing", help="JSONL of trials re-run with all methods (same load)")
    parser.add_argument("--leak-check", type=int, help="trial seed to run the leak check on")
    parser.add_argument(
        "--diagnose",
        type=int,
        default=0,
        help="number of --dev trials for the add_models calibration diagnostic",
    )
    args = parser.parse_args()
    d = args.dataset
    encoder = report.ENCODERS.get(d, "minilm")
    stored_list = report.load_records(sorted(RESULTS.glob(f"uniroute_{d}.trials*.jsonl")))
    stored = {r["seed"]: r for r in stored_list}
    rdc_paths = sorted(RESULTS.glob(f"routerdc_vs_uniroute_{d}.trials*.jsonl"))
    rdc = report.load_records(rdc_paths)
    merged = report.load_records(sorted(RESULTS.glob(f"uniroute_{d}.trials*.jsonl")) + rdc_paths)
    summary = summarise([r for r in merged if r["seed"] in {x["seed"] for x in rdc}])
    times: dict[str, dict[str, Any]] = {"stored trials": {}}
    for m, recs in (
        ("knn", stored_list),
        ("uniroute-multi", stored_list),
        *((m, rdc) for m in RDC),
    ):
        recs = [r for r in recs if r["seed"] in {x["seed"] for x in rdc}]
        times["stored trials"][m] = _seconds(recs, m)
    checks: dict[str, Any] = {"zero_router_pairing_max_diff": _check_pairing(rdc, stored)}
    if args.timing:
        t_recs = report.load_records([Path(args.timing)])
        times["same-load re-run"] = {
            m: _seconds(t_recs, m) for m in ("knn", "uniroute-multi", *RDC)
        }
        checks["timing_rerun_area_max_diff"] = _check_timing_areas(t_recs, stored)
    if args.leak_check is not None:
        checks["leak_check"] = leak_check(d, encoder, args.leak_check, [int(k) for k in summary])
    if args.diagnose:
        checks["add_models_diagnostic_dev"] = diagnose(
            d, encoder, args.diagnose, [int(k) for k in summary]
        )
    times = {s: {m: t for m, t in b.items() if t} for s, b in times.items()}
    result = {
        "dataset": d,
        "encoder": encoder,
        "summary": summary,
        "timing": times,
        "checks": checks,
    }
    (RESULTS / "routerdc_vs_uniroute.json").write_text(json.dumps(result, indent=2))
    n = max(b["n_trials"] for b in summary.values())
    nv = ",".join(summary)
    lines = [
        "# RouterDC's new-LLM path vs UniRoute (unseen-LLM protocol)",
        "",
        COMMANDS.format(d=d, e=encoder, n=n, nv=nv),
        "",
        SETUP,
        "",
        f"## {d}",
        "",
        *table(summary),
        "### Wall time per trial (median, 1 torch/BLAS thread)",
        "",
        *timing_table(times),
        "",
        "### Checks",
        "",
        f"```json\n{json.dumps(checks, indent=2)}\n```",
        "",
        FINDINGS,
        "",
    ]
    (RESULTS / "routerdc_vs_uniroute.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
