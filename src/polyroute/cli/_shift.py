"""``polyroute eval --suite shift`` / ``--dataset FILE --task-column T --shift``: leave one task out.

Thin wrapper over :func:`polyroute.evaluation.run_shift_suite`; writes ``shift.md`` / ``shift.json``
(``shift_<name>.*`` for a single dataset).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from polyroute.cli._fit import file_options
from polyroute.exceptions import ConfigError


def run_shift_command(args: argparse.Namespace, default_out: Path) -> int:
    from polyroute.evaluation._shift import (
        SHIFT_DATASETS,
        SHIFT_ROUTERS,
        run_shift_suite,
        to_markdown,
    )

    if args.shift and not args.dataset:
        raise ConfigError("--shift runs on --dataset NAME_OR_FILE; found no --dataset")
    labels = {r.label: r for r in SHIFT_ROUTERS}
    chosen = args.router or [r.label for r in SHIFT_ROUTERS if r.label != "routerdc"]
    unknown = sorted(set(chosen) - set(labels))
    if unknown:
        raise ConfigError(
            f"the shift suite has no router(s) {unknown}; expected some of: {', '.join(labels)}"
        )
    datasets = [args.dataset] if args.dataset else list(SHIFT_DATASETS)
    encoder = args.encoder if args.encoder != "minilm" else "minilm-static"
    results = run_shift_suite(
        datasets,
        routers=[labels[c] for c in chosen],
        encoder=encoder,
        file_options=file_options(args),
        data_dir=args.data_dir,
        progress=None if args.no_progress else lambda m: print(m, file=sys.stderr),
    )
    parts = ["polyroute", "eval"]
    parts += ["--dataset", args.dataset, "--shift"] if args.dataset else ["--suite", "shift"]
    for flag, value in file_options(args).items():
        parts += [f"--{flag.replace('_', '-')}", value]
    for r in args.router or []:
        parts += ["--router", r]
    if encoder != "minilm-static":
        parts += ["--encoder", encoder]
    command = shlex.join(parts)
    text = to_markdown(results, command=command)
    payload = {"command": command, "datasets": [r.to_dict() for r in results]}
    out = Path(args.out) if args.out else (default_out if default_out.is_dir() else None)
    if out is not None and not args.no_write:
        stem = args.name or (
            "shift" if not args.dataset else f"shift_{Path(args.dataset).name.split('.')[0]}"
        )
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{stem}.md").write_text(text)
        (out / f"{stem}.json").write_text(json.dumps(payload, indent=1))
        print(f"wrote {out / stem}.md, .json", file=sys.stderr)
    print(json.dumps(payload, indent=1) if args.json else text)
    return 0
