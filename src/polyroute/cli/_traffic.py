"""Learning from traffic: ``polyroute calibrate``, ``polyroute replay``, ``polyroute feedback``.

::

    polyroute calibrate --log decisions.db --target-cost-per-1k 2.5
    polyroute calibrate --prompts prompts.jsonl --router-dir my-router --target-share gpt-4=0.2
    polyroute replay --log decisions.db --router my-router --cost-weight 0.3
    polyroute feedback import grades.jsonl --log decisions.db
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.exceptions import ConfigError, DataError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_calibrate(subparsers)
    _register_replay(subparsers)
    _register_feedback(subparsers)


# ---------------------------------------------------------------------------- calibrate
def _register_calibrate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="choose λ for a target cost, model share or quality on your own traffic",
        description="Sweep λ over logged requests (--log) or a file of prompts (--prompts with "
        "--router-dir) and report the λ that meets the target, with its predicted cost per 1,000 "
        "requests, predicted quality and share per model. λ is on the gateway's scale.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--log", help="decision log database written by the gateway")
    src.add_argument("--prompts", help="prompts: JSONL with a 'prompt' field, or one per line")
    p.add_argument("--router-dir", help="router for --prompts (a 'polyroute fit' directory)")
    p.add_argument("--costs", help="per-model USD per request for --prompts: NAME=COST,...")
    p.add_argument("--encoder", help="encoder for --prompts (default: the router's)")
    p.add_argument("--profile", help="only logged requests of this gateway profile")
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--target-cost-per-1k", type=float, metavar="USD")
    target.add_argument("--target-share", metavar="MODEL=SHARE")
    target.add_argument("--min-quality", type=float, metavar="Q")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_calibrate)


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from polyroute.traffic import calibrate, sweep

    if args.log:
        frame = _frame(args.log, args.profile)
        points = sweep(
            frame.scores,
            frame.decision_costs,
            frame.model_names,
            charged_costs=frame.charged_costs,
        )
        source = f"{frame.n} logged requests ({args.log})"
    else:
        scores, costs, names = _prompt_scores(args)
        points = sweep(scores, costs, names)
        source = f"{len(scores)} prompts ({args.prompts})"
    result = calibrate(
        points,
        target_cost_per_1k=args.target_cost_per_1k,
        target_share=_parse_share(args.target_share) if args.target_share else None,
        min_quality=args.min_quality,
    )
    p = result.point
    share = {m: s for m, s in p.share.items() if s > 0}
    out: dict[str, Any] = {
        "cost_weight": p.cost_weight,
        "target": result.target,
        "met": result.met,
        "source": source,
        "predicted_cost_per_1k_usd": p.cost_per_1k_usd,
        "predicted_quality": p.quality,
        "share": share,
    }
    if args.json:
        print(json.dumps(out, indent=1))
        return 0 if result.met else 1
    print(f"λ = {p.cost_weight:.4g}  ({result.target}: {'met' if result.met else 'NOT met'})")
    print(f"on {source}")
    print(f"predicted cost per 1,000 requests: ${p.cost_per_1k_usd:.4f}")
    print(f"predicted quality (router prediction): {p.quality:.4f}")
    for model, s in sorted(share.items(), key=lambda kv: -kv[1]):
        print(f"  {s:7.1%}  {model}")
    if not result.met:
        print("note: no λ meets the target; the closest operating point is shown")
    return 0 if result.met else 1


def _parse_share(text: str) -> tuple[str, float]:
    model, sep, value = text.rpartition("=")
    try:
        share = float(value)
    except ValueError:
        share = math.nan
    if not sep or not model or not 0.0 <= share <= 1.0:
        raise ConfigError(
            f"--target-share expects MODEL=SHARE with SHARE in [0, 1]; found {text!r}"
        )
    return model, share


def _frame(path: str, profile: str | None) -> Any:
    from polyroute.traffic import frame_from_records

    return frame_from_records(_open_log(path).records(profile=profile))


def _open_log(path: str) -> Any:
    from polyroute.traffic import SQLiteLogStore

    if not Path(path).is_file():
        raise ConfigError(f"--log {path}: no such decision log (the gateway's traffic.log_path)")
    return SQLiteLogStore(path, retention_days=None, max_records=None)


def _prompt_scores(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from polyroute.cli._route import parse_costs
    from polyroute.encoders import make_encoder
    from polyroute.routers import load_router

    if not args.router_dir:
        raise ConfigError("--prompts needs --router-dir (the router that scores the prompts)")
    router = load_router(args.router_dir)
    costs = parse_costs(args.costs, router)
    if costs is None:
        raise ConfigError("the router has no saved costs; pass --costs NAME=USD,...")
    prompts = _read_prompts(Path(args.prompts))
    name = args.encoder or getattr(router, "encoder_", None) or "minilm"
    scores = np.asarray(router.predict_scores(make_encoder(name).encode(prompts)))
    return scores, costs, list(router.model_names_)


def _read_prompts(path: Path) -> list[str]:
    if not path.is_file():
        raise ConfigError(f"--prompts {path}: no such file")
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if path.suffix == ".jsonl":
        try:
            prompts = [str(json.loads(ln)["prompt"]) for ln in lines]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(
                f"{path}: expected one JSON object with 'prompt' per line ({exc})"
            ) from None
    else:
        prompts = lines
    if not prompts:
        raise DataError(f"{path}: no prompts found")
    return prompts


# ---------------------------------------------------------------------------- replay
def _register_replay(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "replay",
        help="what another router or λ would have chosen on logged traffic",
        description="Route the logged requests again with --router (and --cost-weight, else each "
        "request's logged λ): share per model, projected cost and quality, each figure with its "
        "source, beside what was logged.",
    )
    p.add_argument("--log", required=True, help="decision log database")
    p.add_argument("--router", required=True, help="router directory ('polyroute fit')")
    p.add_argument("--cost-weight", type=float, metavar="λ", help="λ (default: each logged λ)")
    p.add_argument("--encoder", help="re-embed logged prompt text with this encoder")
    p.add_argument("--profile", help="only logged requests of this gateway profile")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_cmd_replay)


def _cmd_replay(args: argparse.Namespace) -> int:
    from polyroute.encoders import make_encoder
    from polyroute.routers import load_router
    from polyroute.traffic import replay

    if args.cost_weight is not None and not (
        math.isfinite(args.cost_weight) and args.cost_weight >= 0
    ):
        raise ConfigError(f"--cost-weight must be a number >= 0; found {args.cost_weight}")
    router = load_router(args.router)
    encoder = make_encoder(args.encoder) if args.encoder else None
    records = _open_log(args.log).records(profile=args.profile)
    report = replay(records, router, cost_weight=args.cost_weight, encoder=encoder)
    if args.json:
        print(json.dumps(report.to_dict(), indent=1))
        return 0
    print(f"{report.n_requests} requests replayed ({report.n_skipped} skipped), λ = "
          f"{report.cost_weight}")  # fmt: skip
    for label, side in (("logged", report.logged), ("replayed", report.replayed)):
        c = side.cost_per_1k_usd
        cost = "—" if c.value is None else f"${c.value:.4f}"
        print(f"{label}: cost per 1,000 requests {cost} [{c.source}, n={c.n}]")
        for q in side.quality:
            value = "—" if q.value is None else f"{q.value:.4f}"
            print(f"  quality {value} [{q.source}, n={q.n}]")
        for model, s in sorted(side.share.items(), key=lambda kv: -kv[1]):
            print(f"  {s:7.1%}  {model}")
    return 0


# ---------------------------------------------------------------------------- feedback
def _register_feedback(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("feedback", help="graded outcomes of logged requests")
    sub = p.add_subparsers(dest="feedback_command", metavar="ACTION", required=True)
    imp = sub.add_parser(
        "import",
        help="record graded outcomes collected elsewhere",
        description="Read request_id and score (in [0, 1]) from a CSV (header request_id,score) "
        "or JSONL file and record them in the decision log.",
    )
    imp.add_argument("file", help="CSV or JSONL with request_id and score")
    imp.add_argument("--log", required=True, help="decision log database")
    imp.set_defaults(func=_cmd_feedback_import)


def _cmd_feedback_import(args: argparse.Namespace) -> int:
    rows = _read_grades(Path(args.file))
    store = _open_log(args.log)
    unknown = []
    for request_id, score in rows:
        if store.get(request_id) is None:
            unknown.append(request_id)
            continue
        store.set_feedback(request_id, score, source=f"import:{Path(args.file).name}")
    n = len(rows) - len(unknown)
    print(f"{n} feedback score(s) recorded; {len(unknown)} unknown request id(s)")
    if unknown:
        print("unknown: " + ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else ""))
    return 0 if n else 1


def _read_grades(path: Path) -> list[tuple[str, float]]:
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    raw: list[dict[str, Any]] = []
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".jsonl":
            raw = [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        else:
            raw = list(csv.DictReader(text.splitlines()))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not JSON lines ({exc})") from None
    out = []
    for i, row in enumerate(raw, start=1):
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {i}: expected an object with request_id and score")
        rid, score = row.get("request_id"), row.get("score")
        try:
            value = float(score)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = math.nan
        if not rid or not 0.0 <= value <= 1.0:
            raise DataError(
                f"{path}: row {i}: expected request_id and a score in [0, 1]; "
                f"found request_id={rid!r}, score={score!r}"
            )
        out.append((str(rid), value))
    return out
