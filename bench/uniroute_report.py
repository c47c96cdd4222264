"""Summarise ``bench/uniroute_protocol.py`` trials into docs/results/uniroute.{md,json} + plots.

For every dataset and N_val: mean ± std of Area and QNC per method over the trials, wins /
losses / ties against K-NN on Area with a two-sided sign test (``scipy.stats.binomtest``), and the
fraction of the K-NN -> clairvoyant Area gap each method closes. One deferral-curve plot per
dataset (trial seed 0, largest N_val).

Usage::

    nice -n 10 .venv/bin/python bench/uniroute_report.py --datasets mmlu-pro,routerbench,mmlu-pro-openllm
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

RESULTS = protocol.RESULTS
ORDER = ["oracle", "clairvoyant-mlp", "zero-router", "knn", "mlp-retrained", "uniroute-paper",
         "uniroute-shrink", "uniroute-hier-soft", "learnedmap", "learnedmap-hier"]


def _finite_mean(v: np.ndarray) -> tuple[float, float, int]:
    f = v[np.isfinite(v)]
    return (float(f.mean()), float(f.std()), int((~np.isfinite(v)).sum())) if f.size else (
        float("inf"), 0.0, len(v))


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    n_vals = sorted({k for r in records for k in r["results"]}, key=int)
    for n_val in n_vals:
        recs = [r["results"][n_val] for r in records if n_val in r["results"]]
        methods = [m for m in ORDER if m in recs[0]] + [m for m in recs[0] if m not in ORDER]
        area = {m: np.array([r[m]["area"] for r in recs]) for m in methods}
        qnc = {m: np.array([r[m]["qnc"] for r in recs]) for m in methods}
        knn, clair = area.get("knn"), area.get("clairvoyant-mlp")
        rows = {}
        for m in methods:
            q_mean, q_std, q_inf = _finite_mean(qnc[m])
            row: dict[str, Any] = {"area_mean": float(area[m].mean()),
                                   "area_std": float(area[m].std()),
                                   "qnc_mean": q_mean, "qnc_std": q_std, "qnc_never": q_inf,
                                   "area_minus_zero": float((area[m] - area["zero-router"]).mean())}
            if knn is not None and m != "knn":
                d = area[m] - knn
                wins, losses = int((d > 1e-12).sum()), int((d < -1e-12).sum())
                row.update(wins_vs_knn=wins, losses_vs_knn=losses, ties_vs_knn=len(d) - wins - losses,
                           sign_test_p=float(binomtest(wins, wins + losses).pvalue)
                           if wins + losses else 1.0)
                if clair is not None and m not in ("oracle",):
                    gap = float(clair.mean() - knn.mean())
                    row["gap_closed"] = float(d.mean() / gap) if gap > 0 else None
            rows[m] = row
        out[n_val] = {"n_trials": len(recs), "methods": rows}
    return out


def table(summary: dict[str, Any]) -> list[str]:
    lines = []
    for n_val, block in summary.items():
        lines += [f"**N_val = {n_val}** ({block['n_trials']} trials)", "",
                  ("| method | Area (mean ± std) | Area − Zero | QNC (mean ± std) | vs K-NN W/L/T | "
                  "sign-test p | K-NN→clairvoyant gap closed |"),
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for m, r in block["methods"].items():
            wl = (f"{r['wins_vs_knn']}/{r['losses_vs_knn']}/{r['ties_vs_knn']}"
                  if "wins_vs_knn" in r else "—")
            p = f"{r['sign_test_p']:.2g}" if "sign_test_p" in r else "—"
            gap = r.get("gap_closed")
            q = (f"{r['qnc_mean']:.3f} ± {r['qnc_std']:.3f}"
                 + (f" ({r['qnc_never']} never)" if r["qnc_never"] else ""))
            lines.append(f"| {m} | {r['area_mean']:.4f} ± {r['area_std']:.4f} | "
                         f"{r['area_minus_zero']:+.4f} | {q} | {wl} | {p} | "
                         f"{'—' if gap is None else f'{gap:.0%}'} |")
        lines.append("")
    return lines


def plot(dataset: str, n_val: int, methods: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from polyroute.evaluation import deferral_curve, zero_router_hull

    ds, X = protocol.load(dataset)
    t = protocol.make_trial(ds, X, 0, dev=False, n_val_max=n_val)
    val = t.val[:n_val]
    Y, C = t.Y[t.evaluate][:, t.unseen], t.C[t.evaluate][:, t.unseen]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    hc, hq = zero_router_hull(Y, C)
    ax.plot(hc, hq, "k--", label="zero-router")
    for m in methods:
        curve = deferral_curve(protocol.METHODS[m](t, val), Y, C, decision_costs=t.decision_costs())
        fc, fq = curve.frontier()
        ax.plot(fc, fq, label=m)
    ax.set_xlabel(f"mean cost per query ({ds.cost_unit})")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{dataset}: unseen LLMs, N_val={n_val}, trial 0")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="mmlu-pro,routerbench,mmlu-pro-openllm")
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--plot-methods", default="knn,uniroute-paper,uniroute-hier-soft,"
                        "learnedmap,clairvoyant-mlp")
    args = parser.parse_args()
    summary: dict[str, Any] = {}
    for name in args.datasets.split(","):
        records = {}
        for path in sorted(RESULTS.glob(f"uniroute_{name}.trials*.jsonl")):
            for line in path.read_text().splitlines():
                if line:
                    rec = json.loads(line)
                    records[rec["seed"]] = rec
        records = [records[s] for s in sorted(records)]
        if not records:
            continue
        summary[name] = summarise(records)
        if not args.no_plots:
            n_val = max(int(k) for k in summary[name])
            plot(name, n_val, args.plot_methods.split(","), RESULTS / f"uniroute_{name}.png")
    (RESULTS / "uniroute.json").write_text(json.dumps(summary, indent=2))
    lines = []
    for name, block in summary.items():
        lines += [f"## {name}", "", *table(block)]
    (RESULTS / "uniroute_tables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
