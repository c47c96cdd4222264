"""``polyroute eval``: evaluate routers on a named suite or on any dataset's splits.

::

    polyroute eval --suite routerdc
    polyroute eval --dataset routerbench --train-split train --test-split test \\
        --router knn --router zero-router --cost-weights 0 10 100 --out docs/results
    polyroute eval --dataset pool.csv --router uniroute-kmeans \\
        --router multi=uniroute-kmeans:n_clusters=multi
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from polyroute.cli._command import command_line
from polyroute.cli._fit import add_file_options, excluded_models, file_options
from polyroute.exceptions import ConfigError, DataError

DEFAULT_OUT = Path("docs") / "results"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "eval",
        help="evaluate routers: accuracy per task, cost, deferral curve, Area/QNC/AIQ/APGR",
        description="Fit each router once on the training split, then report per-task accuracy, "
        "the macro average, mean cost and the deferral curve metrics on every test split. "
        "Writes NAME.md, NAME.json and NAME.png to --out (default: docs/results/ when that folder "
        "exists in the current directory).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="suites: " + ", ".join(_suite_names()) + "\nexample: polyroute eval --suite "
        "routerdc --router knn --router best-single",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--suite", help="a named suite (see the list below)")
    src.add_argument("--dataset", help="a dataset name (polyroute data list) or a routing file")
    p.add_argument("--train-split", default="train", help="training split (default: train)")
    p.add_argument(
        "--test-split",
        action="append",
        metavar="SPLIT",
        help="test split; repeat for several (default: test)",
    )
    p.add_argument(
        "--random-split",
        metavar="NAME=FRAC,...",
        help="split a dataset without splits, e.g. train=0.6,val=0.1,test=0.3",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of --random-split (default 0)")
    add_file_options(p)
    p.add_argument(
        "--router",
        action="append",
        metavar="[LABEL=]NAME[:KEY=VALUE,...]",
        help="router registry name, optionally configured and labelled, e.g. knn, "
        "knn:n_neighbors=50 or multi=uniroute-kmeans:n_clusters=multi; repeat for several, "
        "the same router too (default: the suite's list)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="LABEL.KEY=VALUE",
        help="router parameter, e.g. knn.n_neighbors=50 (value parsed as JSON)",
    )
    p.add_argument(
        "--cost-weights",
        nargs="+",
        type=float,
        metavar="λ",
        help="λ grid of the deferral curve (default: automatic, 0 to all-cheapest)",
    )
    p.add_argument("--encoder", default="minilm", help="prompt encoder (default: minilm)")
    p.add_argument(
        "--train-target",
        choices=("scores", "soft_scores"),
        default=None,
        help="what routers learn from (default: the suite's choice, else scores)",
    )
    p.add_argument("--data-dir", help="routing data directory")
    p.add_argument(
        "--out", help="folder for NAME.md/.json/.png (default: docs/results/ if present)"
    )
    p.add_argument("--name", help="file stem of the outputs (default: the suite's, else DATASET)")
    p.add_argument("--no-write", action="store_true", help="print only; write no files")
    p.add_argument("--plot", metavar="DIR", help="also write the PNG into DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a suite's reference numbers are not reproduced (±0.01)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--shift",
        action="store_true",
        help="with --dataset: the shift suite (leave one task out) on that dataset or file",
    )
    p.set_defaults(func=_cmd_eval, command_parser=p)


def _suite_names() -> list[str]:
    from polyroute.evaluation import available_suites

    return [*available_suites(), "shift"]


def _parse_params(items: list[str]) -> dict[str, dict[str, Any]]:
    from polyroute.evaluation._router_specs import parse_value

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        target, eq, raw = item.partition("=")
        router, dot, key = target.rpartition(".")  # a label may hold dots; a key never does
        if not eq or not dot or not router or not key:
            raise ConfigError(
                f"--param expects LABEL.KEY=VALUE (e.g. knn.n_neighbors=50); found {item!r}"
            )
        out.setdefault(router, {})[key] = parse_value(raw)
    return out


def _parse_fractions(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in text.split(","):
        name, eq, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(
                f"--random-split expects NAME=FRACTION,... (e.g. "
                f"train=0.6,test=0.4); found {text!r}"
            ) from None
        if not eq or not name.strip():
            raise ConfigError(f"--random-split expects NAME=FRACTION,...; found {text!r}")
    return out


def _suite_from_args(args: argparse.Namespace) -> Any:
    from polyroute.evaluation import Suite, TestSpec, get_suite

    if args.suite:
        suite = get_suite(args.suite)
        if args.test_split or args.random_split:
            raise ConfigError(
                "--test-split/--random-split apply to --dataset; a suite fixes its "
                f"own splits (found them with --suite {args.suite})"
            )
    else:
        tests = {s: TestSpec(args.dataset, s) for s in (args.test_split or ["test"])}
        suite = Suite(
            name=args.dataset,
            description=f"{args.dataset}: {args.train_split} -> " + ", ".join(tests),
            dataset=args.dataset,
            train_split=args.train_split,
            tests=tests,
            random_split=_parse_fractions(args.random_split) if args.random_split else None,
            seed=args.seed,
            stem=Path(args.dataset).name.split(".")[0].replace("-", "_"),
            file_options=file_options(args),
        )
    from dataclasses import replace

    if args.train_target:
        suite = replace(suite, train_target=args.train_target)
    return replace(suite, exclude_models=excluded_models(args))


def _cmd_eval(args: argparse.Namespace) -> int:
    from polyroute.evaluation import run_suite, to_markdown, write_report

    if args.suite == "shift" or args.shift:
        from polyroute.cli._shift import run_shift_command

        return run_shift_command(args, DEFAULT_OUT)

    suite = _suite_from_args(args)
    result = run_suite(
        suite,
        routers=tuple(args.router) if args.router else suite.routers,
        encoder=args.encoder,
        cost_weights=args.cost_weights,
        data_dir=args.data_dir,
        show_progress=False if args.no_progress else None,
        router_params=_parse_params(args.param),
    )
    result.command = command_line(args.command_parser, args, ["eval"])
    stem = args.name or suite.stem or suite.name
    out = Path(args.out) if args.out else (DEFAULT_OUT if DEFAULT_OUT.is_dir() else None)
    title = f"Router evaluation: {suite.name} — {suite.description}"
    if out is not None and not args.no_write:
        paths = write_report(result, out, stem, title=title)
        print("wrote " + ", ".join(str(p) for p in paths.values()), file=sys.stderr)
    if args.plot:
        from polyroute.evaluation._plots import plot_result

        Path(args.plot).mkdir(parents=True, exist_ok=True)
        print(f"wrote {plot_result(result, Path(args.plot) / f'{stem}.png')}", file=sys.stderr)
    print(json.dumps(result.to_dict(), indent=1) if args.json else to_markdown(result, title=title))
    return _check_expected(suite, result, strict=args.check)


def _check_expected(suite: Any, result: Any, *, strict: bool) -> int:
    failed = 0
    for (router, test), want in suite.expected.items():
        if test not in result.tests or router not in result.tests[test].routers:
            continue
        got = result.tests[test].routers[router].average
        ok = abs(100 * got - 100 * want) <= 0.01 + 1e-9
        failed += not ok
        print(
            f"reference {router} on {test}: {100 * got:.2f} (expected {100 * want:.2f}) "
            f"{'ok' if ok else 'MISMATCH'}",
            file=sys.stderr,
        )
    if failed and strict:
        raise DataError(f"{failed} reference number(s) not reproduced (see above)")
    return 0
