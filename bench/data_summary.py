"""Summarise every named routing dataset: sizes, splits, per-model mean score and cost.

Writes ``docs/results/data_summary.json`` and ``docs/results/data_summary.md``; the numbers quoted
in ``docs/data.md`` come from here.

Usage::

    .venv/bin/python bench/data_summary.py [--data-dir DIR] [--out docs/results]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from polyroute.cli._data import describe
from polyroute.data import available_datasets, load_dataset

COMMAND = ".venv/bin/python bench/data_summary.py"


def _markdown(summaries: list[dict]) -> str:
    lines = [
        "# Routing datasets: summary",
        "",
        f"Command: `{COMMAND}` (reads the data directory; no randomness).",
        "",
        (
            "| dataset | prompts | models | splits | cost unit | best single model, all rows "
            "(mean score) | per-prompt oracle | load s |"
        ),
        "|---|---:|---:|---|---|---|---:|---:|",
    ]
    for s in summaries:
        best = next(m for m in s["models"] if m["name"] == s["best_single_model"])
        splits = " ".join(f"{k}={v}" for k, v in s["splits"].items()) or "-"
        lines.append(
            f"| {s['name']} | {s['n_prompts']} | {s['n_models']} | {splits} | "
            f"{s['cost_unit'] or '-'} | {best['name']} ({best['mean_score']:.4f}) | "
            f"{s['oracle_score']:.4f} | {s['load_s']:.2f} |"
        )
    for s in summaries:
        lines += [
            "",
            f"## {s['name']}",
            "",
            "| model | mean score | mean cost | missing |",
            "|---|---:|---:|---:|",
        ]
        for m in s["models"]:
            cost = "-" if m["mean_cost"] is None else f"{m['mean_cost']:.6g}"
            lines.append(f"| {m['name']} | {m['mean_score']:.4f} | {cost} | {m['n_missing']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir")
    parser.add_argument("--out", default="docs/results")
    args = parser.parse_args()
    summaries = []
    for name in available_datasets():
        start = time.perf_counter()
        ds = load_dataset(name, data_dir=args.data_dir)
        info = describe(ds)
        info["load_s"] = round(time.perf_counter() - start, 3)
        summaries.append(info)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "data_summary.json").write_text(
        json.dumps({"command": COMMAND, "datasets": summaries}, indent=2) + "\n", encoding="utf-8"
    )
    (out / "data_summary.md").write_text(_markdown(summaries), encoding="utf-8")
    print(f"wrote {out / 'data_summary.json'} and {out / 'data_summary.md'}")


if __name__ == "__main__":
    main()
