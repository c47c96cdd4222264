"""Reproduce RouterDC's Tables 1–2 (arXiv 2409.19886) on the paper's split, on CPU.

    nice -n 10 .venv/bin/python bench/routerdc_reproduce.py --seeds 0,1,2 --prior-weight 0.9 \
        --out-dir docs/results --artifacts /tmp/routerdc-artifacts

Variants (each trained once per seed on the whole training split; the LLMs are ranked by the
soft scores (probability of the correct option) as in the paper, while checkpoint selection,
calibration and the cluster prior use the evaluation scores; clusters = the training tasks; a variant "+ prior" is the same trained router scored with the
cluster prior, see ``ContrastiveRouter``):

* ``frozen``: frozen all-MiniLM-L6-v2 embeddings + trained projection head (both losses);
* ``frozen-no-sample-loss``: the ablation without the sample–sample loss;
* ``finetune``: the top MiniLM layers fine-tuned (``routerdc-finetune``), ``--finetune-steps``.

Reports per-task accuracy, ID/OOD averages (mean ± std over seeds) against the paper, the best
single LLM and the per-task oracle; training time per seed (wall and CPU); a training-curve plot;
the latency of routing one prompt (MiniLM embedding included). Writes ``routerdc.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routerdc_common import (
    ID_TASKS,
    OOD_TASKS,
    PAPER,
    TASK_LABELS,
    evaluate_choices,
    load_benchmark,
    reference_points,
    summarise,
)

from polyroute.encoders import make_encoder
from polyroute.routers import load_router, make_router

ALL_TASKS = ID_TASKS + OOD_TASKS


def _fit(
    name: str, params: dict[str, Any], X: Any, ds: Any, rows: np.ndarray, seed: int, encoder: str
) -> Any:
    router = make_router(name, cluster_source="tasks", random_state=seed, **params)
    wall, cpu = time.perf_counter(), time.process_time()
    router.fit(
        X,
        ds.scores[rows],
        model_names=ds.model_names,
        tasks=ds.tasks[rows],
        soft_scores=ds.soft_scores[rows],
    )
    router.fit_seconds_ = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    router.encoder_ = "text" if router.input_kind == "text" else encoder  # as `polyroute fit`
    return router


PRIOR_GRID = (0.0, 0.25, 0.5, 0.75, 0.9, 1.0)


def _score(router: Any, ds: Any, inputs: Any, weight: float) -> dict[str, Any]:
    router.set_params(prior_weight=weight)
    acc = evaluate_choices(ds, lambda rows: router.route(inputs[rows]), inputs)
    return {**acc, **summarise(acc)}


def _specs(args: argparse.Namespace, X: np.ndarray, texts: np.ndarray) -> list[tuple[Any, ...]]:
    specs: list[tuple[Any, ...]] = [
        ("frozen", "routerdc", {"n_steps": args.steps}, X, args.seeds_list),
        (
            "frozen-no-sample-loss",
            "routerdc",
            {"n_steps": args.steps, "sample_loss_weight": 0.0},
            X,
            args.seeds_list,
        ),
        (
            "finetune",
            "routerdc-finetune",
            {
                "n_steps": args.finetune_steps,
                "n_finetune_layers": args.finetune_layers,
                "max_seq_length": args.max_seq_length,
                "batch_size": 32,
            },
            texts,
            args.finetune_seeds_list,
        ),
    ]
    return [s for s in specs if s[0] in args.variants]


def run_variants(args: argparse.Namespace, ds: Any, X: np.ndarray, report: Any) -> dict[str, Any]:
    """Train every variant and seed; score each at every prior weight of ``PRIOR_GRID``."""
    tr = ds.splits["train"]
    texts = np.asarray(ds.prompts, dtype=object)
    results: dict[str, Any] = {}
    for label, name, params, inputs, seeds in _specs(args, X, texts):
        for seed in seeds:
            print(f"[{label}] seed {seed} ...", file=sys.stderr, flush=True)
            router = _fit(
                name,
                {**params, "show_progress": args.progress},
                inputs[tr],
                ds,
                tr,
                seed,
                args.encoder,
            )
            grid = {str(w): _score(router, ds, inputs, w) for w in PRIOR_GRID}
            results.setdefault(label, {"runs": []})["runs"].append(
                {
                    "seed": seed,
                    **grid["0.0"],
                    "prior_grid": grid,
                    "fit_seconds": router.fit_seconds_,
                    "best_step": router.best_step_,
                    "history": router.history_,
                }
            )
            if args.artifacts and seed == seeds[0]:
                router.set_params(prior_weight=0.0)
                router.save(Path(args.artifacts) / label)
            print(
                f"[{label}] seed {seed}: ID {grid['0.0']['id']:.2f} OOD "
                f"{grid['0.0']['ood']:.2f} ({router.fit_seconds_['wall']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
            report(results)
    return results


def aggregate(results: dict[str, Any], prior_weight: float) -> dict[str, Any]:
    """Mean ± std over seeds per variant, plus a "+ prior" row at the chosen weight."""
    rows: dict[str, Any] = {}
    for label, res in results.items():
        variants = [(label, lambda run: run)]
        if label != "frozen-no-sample-loss":
            variants.append(
                (
                    f"{label} + prior (w={prior_weight:g})",
                    lambda run: run["prior_grid"][str(float(prior_weight))],
                )
            )
        for row_label, pick in variants:
            runs = [pick(r) for r in res["runs"]]
            row: dict[str, Any] = {"n_seeds": len(runs)}
            for key in (*ALL_TASKS, "id", "ood"):
                vals = np.array([r[key] for r in runs])
                row[key] = {"mean": float(vals.mean()), "std": float(vals.std())}
            row["fit_wall_s"] = float(np.mean([r["fit_seconds"]["wall"] for r in res["runs"]]))
            row["fit_cpu_s"] = float(np.mean([r["fit_seconds"]["cpu"] for r in res["runs"]]))
            row["best_steps"] = [r["best_step"] for r in res["runs"]]
            rows[row_label] = row
    return rows


def measure_latency(
    artifact: Path,
    prompts: list[str],
    n: int,
    threads: int = 1,
) -> dict[str, Any]:
    """Route one prompt at a time: embedding (no cache) + RouterDC head + select.

    Wall time is what a caller sees on this (shared) machine; CPU time of the single-threaded
    process is what the same call costs on an idle core.
    """
    router = load_router(artifact)
    name = str(getattr(router, "encoder_", None) or "minilm")
    encoder = (
        make_encoder(name, num_threads=threads) if name.startswith("minilm") else make_encoder(name)
    )
    for p in prompts[:5]:  # warm-up (session creation, first-call allocations)
        router.route(encoder.encode([p]))
    wall, cpu, head = [], [], []
    for p in prompts[:n]:
        t, c = time.perf_counter(), time.process_time()
        x = encoder.encode([p])
        h = time.perf_counter()
        router.route(x)
        head.append((time.perf_counter() - h) * 1000)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return {
        "p50_ms": float(np.percentile(wall, 50)),
        "p95_ms": float(np.percentile(wall, 95)),
        "router_only_p50_ms": float(np.percentile(head, 50)),
        "cpu_p50_ms": float(np.percentile(cpu, 50)),
        "cpu_p95_ms": float(np.percentile(cpu, 95)),
        "n": len(wall),
        "encoder": name,
        "threads": threads,
        "load_average": os.getloadavg()[0],
    }


def plot_curves(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for label, res in results.items():
        for i, run in enumerate(res["runs"]):
            h = run["history"]
            kw = {"label": label if i == 0 else None, "alpha": 0.8}
            color = {"frozen": "C0", "frozen-no-sample-loss": "C1", "finetune": "C2"}.get(label)
            axes[0].plot(h["step"], h["loss"], color=color, **kw)
            axes[1].plot(h["step"], np.asarray(h["holdout_quality"]) * 100, color=color, **kw)
    axes[0].set(xlabel="step", ylabel="training loss (running)", title="RouterDC training loss")
    axes[1].set(
        xlabel="step",
        ylabel="held-out train accuracy (%)",
        title="Checkpoint selection (10% of TRAIN held out)",
    )
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _chosen_weight(args: argparse.Namespace, out_dir: Path) -> float:
    """``--prior-weight``, or the weight chosen by ``routerdc_select.py`` (CV on TRAIN)."""
    if args.prior_weight is not None:
        return float(args.prior_weight)
    suffix = "" if args.encoder == "minilm" else f"_{args.encoder}"
    path = out_dir / f"routerdc_selection{suffix}.json"
    if path.is_file():
        return float(json.loads(path.read_text())["best_prior_weight"])
    return 0.9


def write_markdown(out: dict[str, Any], path: Path, command: str, *, png: str) -> None:
    refs, res = out["references"], out["table"]
    head = "| method | " + " | ".join(TASK_LABELS[t] for t in ALL_TASKS) + " | ID avg | OOD avg |"
    source = out.get("prior_weight_source", "from `bench/routerdc_select.py` (CV on TRAIN)")
    lines = [
        f"`{command}`",
        "",
        (
            "RouterDC on the paper's split (train: 5 ID training sets; "
            "test: ID test sets; OOD: MATH-PreAlgebra, MBPP, C-EVAL). Accuracy (%) with the "
            "convention of `data/README.md`; router rows are mean ± std over seeds "
            f"{out['seeds']}. Prior weight {out['prior_weight']} {source}; checkpoints chosen "
            "on a held-out 10% of TRAIN; test labels never used for a choice."
        ),
        "",
        head,
        "|---|" + "---:|" * (len(ALL_TASKS) + 2),
    ]
    for label, ref in (
        (
            "best single LLM (" + refs["best_single"]["model"].split("/")[-1] + ")",
            refs["best_single"],
        ),
        ("per-task oracle (test labels)", refs["task_oracle"]),
        ("per-query oracle (test labels)", refs["query_oracle"]),
    ):
        s = summarise(ref)
        lines.append(
            f"| {label} | "
            + " | ".join(f"{ref[t]:.2f}" for t in ALL_TASKS)
            + f" | {s['id']:.2f} | {s['ood']:.2f} |"
        )
    lines.append(
        "| RouterDC paper (mDeBERTa fine-tuned) | "
        + " | ".join("" for _ in ALL_TASKS)
        + f" | {PAPER['id']:.2f} | {PAPER['ood']:.2f} |"
    )
    for label, r in res.items():
        cells = [f"{r[t]['mean']:.2f} ± {r[t]['std']:.2f}" for t in (*ALL_TASKS, "id", "ood")]
        lines.append(f"| **{label}** ({r['n_seeds']} seeds) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| variant | fit wall s / seed | fit CPU s / seed | best step (per seed) |",
        "|---|---:|---:|---|",
    ]
    for label, r in res.items():
        if "+ prior" in label:
            continue
        steps = ", ".join(str(step) for step in r["best_steps"])
        lines.append(f"| {label} | {r['fit_wall_s']:.0f} | {r['fit_cpu_s']:.0f} | {steps} |")
    lat = out.get("latency")
    if lat and "cpu_p50_ms" in lat:
        lines += [
            "",
            (
                f"Routing one prompt with the trained frozen RouterDC, embedding "
                f"({lat['encoder']}, {lat.get('threads', 1)} thread(s), no cache) included, "
                f"{lat['n']} test prompts one at a time: wall time **p50 {lat['p50_ms']:.2f} "
                f"ms** (p95 {lat['p95_ms']:.2f} ms; shared machine, load average "
                f"{lat['load_average']:.1f}); CPU time per call p50 {lat['cpu_p50_ms']:.2f} ms "
                f"(p95 {lat['cpu_p95_ms']:.2f} ms; with one thread ≈ the latency on an idle "
                f"core); router alone (embedding given) p50 "
                f"{lat.get('router_only_p50_ms', float('nan')):.2f} ms."
            ),
        ]
    lines += [
        "",
        out["machine_note"],
        "",
        (
            f"Training curves: `{png}`. Latency figures: "
            f"`bench/routerdc_latency.py` (`{Path(png).stem}_latency.md`) when it was run after "
            "training, else measured by this script."
        ),
    ]
    path.write_text("\n".join(lines) + "\n")


def _render_only(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    path = out_dir / f"{args.out_name}.json"
    out = json.loads(path.read_text())
    out["prior_weight"] = _chosen_weight(args, out_dir)
    out["prior_weight_source"] = (
        "given on the command line"
        if args.prior_weight is not None
        else "from `bench/routerdc_select.py` (CV on TRAIN)"
    )
    out["table"] = aggregate(out["results"], out["prior_weight"])
    lat_path = out_dir / f"{args.out_name}_latency.json"  # bench/routerdc_latency.py, if run
    if lat_path.is_file():
        out["latency"] = json.loads(lat_path.read_text())
    path.write_text(json.dumps(out, indent=2))
    md = out_dir / f"{args.out_name}.md"
    first = md.read_text().splitlines()[0].strip("`").split(" && ")[0]
    command = (
        f"{first} && nice -n 10 .venv/bin/python bench/routerdc_reproduce.py --render-only "
        f"--out-dir {args.out_dir}"
    )
    write_markdown(out, md, command, png=f"{args.out_name}.png")
    print(md.read_text())
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument(
        "--prior-weight",
        type=float,
        default=None,
        help="default: best_prior_weight of routerdc_selection.json (CV on TRAIN)",
    )
    ap.add_argument("--variants", default="frozen,frozen-no-sample-loss,finetune")
    ap.add_argument("--finetune-steps", type=int, default=300)
    ap.add_argument("--finetune-seeds", default=None, help="default: --seeds")
    ap.add_argument("--finetune-layers", type=int, default=1)
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--latency-prompts", type=int, default=200)
    ap.add_argument("--encoder", default="minilm")
    ap.add_argument("--artifacts", help="folder for the trained routers (seed 0); not the repo")
    ap.add_argument("--out-dir", default="docs/results")
    ap.add_argument("--out-name", default="routerdc", help="file stem of the outputs")
    ap.add_argument("--progress", action="store_true", help="show training progress bars")
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the markdown from the existing JSON (e.g. once the CV-chosen "
        "prior weight is known); trains nothing",
    )
    args = ap.parse_args(argv)
    if args.render_only:
        return _render_only(args)
    args.seeds_list = [int(s) for s in args.seeds.split(",")]
    args.finetune_seeds_list = [int(s) for s in (args.finetune_seeds or args.seeds).split(",")]
    args.variants = set(args.variants.split(","))
    import torch

    torch.set_num_threads(1)  # the machine is shared; also makes CPU times comparable
    ds, X = load_benchmark(args.encoder)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    command = "nice -n 10 .venv/bin/python bench/routerdc_reproduce.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    refs = reference_points(ds)
    state: dict[str, Any] = {}

    def report(results: dict[str, Any]) -> None:
        weight = _chosen_weight(args, out_dir)
        out: dict[str, Any] = {
            "seeds": args.seeds_list,
            "prior_weight": weight,
            "steps": args.steps,
            "finetune": {
                "steps": args.finetune_steps,
                "layers": args.finetune_layers,
                "seeds": args.finetune_seeds_list,
                "max_seq_length": args.max_seq_length,
            },
            "paper": PAPER,
            "references": refs,
            "table": aggregate(results, weight),
            "results": results,
            "latency": state.get("latency"),
            "machine_note": (
                f"CPU: {os.cpu_count()} cores shared with other jobs during the "
                f"run (load average {os.getloadavg()[0]:.1f} when this was "
                "written), so wall times are pessimistic; torch threads = 1."
            ),
        }
        if args.artifacts and "latency" not in state and (Path(args.artifacts) / "frozen").is_dir():
            test_prompts = [str(p) for p in ds.prompts[ds.splits["test"]]]
            rng = np.random.default_rng(0)
            picks = [test_prompts[i] for i in rng.permutation(len(test_prompts))]
            state["latency"] = out["latency"] = measure_latency(
                Path(args.artifacts) / "frozen", picks, args.latency_prompts
            )
        plot_curves(results, out_dir / f"{args.out_name}.png")
        slim = json.loads(json.dumps(out))
        for res in slim["results"].values():
            for run in res["runs"][1:]:
                run.pop("history", None)
        (out_dir / f"{args.out_name}.json").write_text(json.dumps(slim, indent=2))
        write_markdown(
            out, out_dir / f"{args.out_name}.md", command.strip(), png=f"{args.out_name}.png"
        )

    run_variants(args, ds, X, report)
    print((out_dir / f"{args.out_name}.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
