"""The ``polyroute`` command line: thin commands over the library.

Each command group lives in its own module exposing ``register(subparsers)``; the module sets
``func`` on its parser, which receives the parsed arguments and returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from polyroute.exceptions import PolyrouteError, PolyrouteWarning

# Command -> (module that registers it, one-line help). Order here is the order in --help.
# A run imports only the module of the command it runs (the others get a stub holding their help
# line), so ``polyroute --help`` loads no numpy, pydantic or scikit-learn.
_COMMANDS: dict[str, tuple[str, str]] = {
    "data": ("polyroute.cli._data", "list and inspect routing datasets"),
    "eval": (
        "polyroute.cli._eval",
        "evaluate routers: accuracy per task, cost, deferral curve, Area/QNC/AIQ/APGR",
    ),
    "route": ("polyroute.cli._route", "choose the model for one prompt and explain the choice"),
    "fit": (
        "polyroute.cli._fit",
        "fit a router on a dataset and save it (router.json + arrays.npz)",
    ),
    "onboard": (
        "polyroute.cli._onboard",
        "add a model to a fitted UniRoute router (no retraining)",
    ),
    "serve": ("polyroute.cli._serve", "run the OpenAI-compatible routing gateway"),
    "demo": (
        "polyroute.cli._serve",
        "run gateway + fake upstreams replaying RouterBench answers, show routing",
    ),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``argv``, only the command named in ``argv`` gets its real parser."""
    parser = argparse.ArgumentParser(
        prog="polyroute",
        description="Route each LLM request to the model that answers it well enough at the "
        "lowest cost; evaluate routers on real benchmark data; serve an OpenAI-compatible gateway.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'polyroute COMMAND --help' for a command's options.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if argv is None:
        modules = {module for module, _ in _COMMANDS.values()}
    else:  # the first bare word is the command (the top level takes no option values)
        command = next((a for a in argv if not a.startswith("-")), None)
        modules = {_COMMANDS[command][0]} if command in _COMMANDS else set()
    for name, (module, help_line) in _COMMANDS.items():
        if name in sub.choices:
            continue  # registered together with an earlier command of its module
        if module in modules:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        code: int = args.func(args)
    except PolyrouteError as exc:
        print(f"polyroute: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("polyroute: interrupted", file=sys.stderr)
        return 130
    return code


def _format_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    """Our own warnings as one line for people; others keep Python's format (file and line)."""
    if issubclass(category, PolyrouteWarning):
        return f"polyroute: warning: {message}\n"
    return _python_format_warning(message, category, filename, lineno, line)


_python_format_warning = warnings.formatwarning


def run() -> None:
    """Console entry point (``polyroute``)."""
    warnings.formatwarning = _format_warning
    sys.exit(main())
