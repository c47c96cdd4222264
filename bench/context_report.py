"""Render docs/results/contextual.{md,json} from the parts the context benches write.

    .venv/bin/python bench/context_report.py

Parts: contextual_langid.json (bench/context_langid.py), contextual_topics_<encoder>.json
(bench/context_topics.py), contextual_difficulty.json (bench/context_difficulty.py) and, when
present, contextual_gateway.json (the `auto` / `auto-context` rows of bench/bench_gateway.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RES = Path(__file__).resolve().parents[1] / "docs/results"


def _load(name: str) -> dict[str, Any] | None:
    path = RES / name
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def main() -> None:
    lang = _load("contextual_langid.json")
    topics = {e: _load(f"contextual_topics_{e}.json") for e in ("minilm-static", "minilm")}
    diff = _load("contextual_difficulty.json")
    gw = _load("contextual_gateway.json")
    out: list[str] = ["# Contextual routing: language, topic, difficulty", ""]
    if lang:
        out += [
            "## Language identification on short prompts",
            "",
            f"Command: `{lang['command']}`. {lang['n_prompts']} prompts in "
            f"{len(lang['languages'])} languages ({', '.join(lang['languages'])}), "
            "`tests/data/langid_short_prompts.jsonl`. Per-call latency measured in one run "
            "(interleaved rounds) on a shared 2-core machine: p99 is scheduling noise.",
            "",
            "| detector | accuracy | p50 µs | p99 µs | load s | memory MiB | errors |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for name, c in lang["candidates"].items():
            errs = ", ".join(c["errors"][:6]) + (" …" if len(c["errors"]) > 6 else "")
            out.append(
                f"| {name} | {c['accuracy']:.3f} | {c['p50_us']:.0f} | {c['p99_us']:.0f} | "
                f"{c['load_s']:.2f} | {c['rss_growth_mib']:.0f} | {errs} |"
            )
        out += [""]
    out += ["## Topics from plain-language descriptions (MMLU-Pro, 14 categories)", ""]
    out += ["| encoder | zero-shot | 5-shot (mean of draws) | linear probe (ceiling) | command |"]
    out += ["|---|---:|---:|---:|---|"]
    for e, t in topics.items():
        if t:
            out.append(
                f"| {e} | {t['macro_accuracy_zero_shot']:.3f} | "
                f"{t['macro_accuracy_5_shot_mean']:.3f} {t['macro_accuracy_5_shot_draws']} | "
                f"{t['macro_accuracy_linear_probe']:.3f} | `{t['command']}` |"
            )
    out += [
        "",
        "Macro accuracy (mean per-category recall) on 30% test questions; examples and probe "
        "from the 70% train questions; descriptions are in the bench and in the JSON.",
        "",
    ]
    if diff:
        out += [
            "## Learned difficulty (share of models failing a prompt) on held-out prompts",
            "",
            f"Command: `{diff['command']}`; encoder {diff['encoder']}; {diff['n_train']} "
            f"training prompts; model chosen on a validation split of training prompts: "
            f"`{diff['chosen']}` (validation mean ρ {diff['validation_mean_rho']}).",
            "",
            "| dataset | models | held-out | Spearman ρ difficulty | ρ prompt length | "
            "near-duplicate share | ρ without near-duplicates |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, r in diff["datasets"].items():
            out.append(
                f"| {name} | {r['n_models']} | {r['n_test']} | **{r['spearman_difficulty']:.3f}** "
                f"| {r['spearman_length']:.3f} | {r['near_duplicate_share']:.2f} | "
                f"{r['spearman_difficulty_without_near_duplicates']:.3f} |"
            )
        out += [""]
    if gw:
        out += [
            "## Request-path cost of the contextual signals",
            "",
            f"Command: `{gw['command']}` (same run, interleaved with direct calls).",
            "",
            "| profile | added p50 ms | added p99 ms |",
            "|---|---:|---:|",
        ]
        for name, r in gw["rows"].items():
            out.append(f"| {name} | {r['added_p50_ms']:.3f} | {r['added_p99_ms']:.3f} |")
        out += [""]
    out += ["## Against the issue's goals", ""]
    for e, t in topics.items():
        if t:
            z, f = t["macro_accuracy_zero_shot"], t["macro_accuracy_5_shot_mean"]
            out.append(
                f"* topics, {e}: zero-shot {z:.3f} (goal ≥ 0.60: {'met' if z >= 0.6 else 'NOT met'}), "
                f"5-shot {f:.3f} (goal ≥ 0.75: {'met' if f >= 0.75 else 'NOT met'})"
            )
    if diff:
        rows = diff["datasets"]
        low = [n for n, r in rows.items() if r["spearman_difficulty"] < 0.35]
        below_len = [
            n for n, r in rows.items() if r["spearman_difficulty"] <= abs(r["spearman_length"])
        ]
        out.append(
            f"* difficulty: ρ ≥ 0.35 on {len(rows) - len(low)}/{len(rows)} datasets (below: "
            f"{', '.join(low) or 'none'}); above |ρ of length| on {len(rows) - len(below_len)}/"
            f"{len(rows)} (not: {', '.join(below_len) or 'none'}); routellm-mtbench has only 12 "
            "held-out prompts"
        )
    if gw:
        out.append(
            f"* request path: `auto-context` − `auto` added p50 = "
            f"{gw['auto_context_minus_auto_p50_ms']:+.3f} ms (goal ≤ 1.0 ms), one run on a "
            f"machine with load average {gw['loadavg_at_start']}"
        )
    out.append("")
    (RES / "contextual.md").write_text("\n".join(out), encoding="utf-8")
    summary = {"langid": lang, "topics": topics, "difficulty": diff, "gateway": gw}
    (RES / "contextual.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
