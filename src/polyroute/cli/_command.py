"""The command line that reproduces a parsed command, for the "Command:" line of reports."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Iterable

#: Options that change how a run looks, not what it computes or writes.
COSMETIC = frozenset({"no_progress"})


def command_line(
    parser: argparse.ArgumentParser, args: argparse.Namespace, prefix: Iterable[str]
) -> str:
    """``polyroute <prefix> ...`` with every option of ``parser`` that ``args`` sets.

    Built from the parser's own actions, so an option added later is reproduced too; options at
    their default are left out (they reproduce themselves) and so are :data:`COSMETIC` ones.
    """
    parts = ["polyroute", *prefix]
    for action in parser._actions:  # argparse keeps no public list of a parser's actions
        if isinstance(action, argparse._HelpAction) or action.dest in COSMETIC:
            continue
        value = getattr(args, action.dest, None)
        if not action.option_strings:  # positional
            parts += [str(v) for v in (value if isinstance(value, list) else [value])]
            continue
        if value is None or value is False or value == action.default or value == []:
            continue
        flag = action.option_strings[-1]  # the long form
        if isinstance(action, argparse._StoreTrueAction):
            parts.append(flag)
        elif isinstance(action, argparse._AppendAction):
            for item in value:
                parts += [flag, str(item)]
        elif isinstance(value, list):
            parts += [flag, *map(str, value)]
        else:
            parts += [flag, str(value)]
    return shlex.join(parts)
