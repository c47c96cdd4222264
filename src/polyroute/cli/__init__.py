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

# Order here is the order in --help.
_COMMAND_MODULES = (
    "polyroute.cli._data",
    "polyroute.cli._eval",
    "polyroute.cli._route",
    "polyroute.cli._fit",
    "polyroute.cli._onboard",
    "polyroute.cli._serve",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polyroute",
        description="Route each LLM request to the model that answers it well enough at the "
        "lowest cost; evaluate routers on real benchmark data; serve an OpenAI-compatible gateway.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'polyroute COMMAND --help' for a command's options.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
