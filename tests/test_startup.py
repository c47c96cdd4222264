"""Start-up cost as behaviour: ``import polyroute`` and ``polyroute --help`` load no heavy module
(the times themselves are measured in bench/bench_import.py, not asserted here)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from polyroute.cli import build_parser

HEAVY = ("numpy", "scipy", "sklearn", "pandas", "pyarrow", "pydantic", "yaml", "torch")


def _loaded_after(code: str) -> list[str]:
    """Heavy top-level modules present in ``sys.modules`` after running ``code`` in a fresh
    interpreter."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps(sorted(set({HEAVY!r}) & set(sys.modules))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def test_import_polyroute_loads_no_heavy_module() -> None:
    assert _loaded_after("import polyroute") == []


def test_public_names_still_resolve_on_first_use() -> None:
    loaded = _loaded_after(
        "import polyroute\n"
        "assert polyroute.select is polyroute.routers.select\n"
        "assert polyroute.RoutingDataset.__name__ == 'RoutingDataset'"
    )
    assert "sklearn" in loaded  # the lazy names really loaded their modules
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        import polyroute

        _ = polyroute.nope  # type: ignore[attr-defined]


def test_cli_help_loads_no_heavy_module() -> None:
    code = (
        "import contextlib, io\n"
        "from polyroute.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass"
    )
    assert _loaded_after(code) == []


def _help_lines(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a.help for a in sub._choices_actions}


def test_lazy_parser_lists_the_same_commands_and_help_as_the_full_one() -> None:
    full, lazy = build_parser(), build_parser([])
    assert _help_lines(lazy) == _help_lines(full)


@pytest.mark.parametrize("command", ["data", "fit", "serve", "demo"])
def test_a_command_gets_its_real_parser(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser([command, "--help"]).parse_args([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"usage: polyroute {command}" in out and "--" in out.split("options:")[1]
