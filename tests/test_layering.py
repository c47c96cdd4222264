"""Import rules of STYLE.md §1, checked on the source: heavy or edge-only libraries stay in
their folders, and importing polyroute pulls in none of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import polyroute

SRC = Path(polyroute.__file__).parent

# library -> path prefixes (relative to src/polyroute) allowed to import it
ALLOWED = {
    "torch": ("routers/_routerdc", "encoders/"),
    "transformers": ("routers/_routerdc", "encoders/"),
    "sentence_transformers": ("encoders/",),
    "fastapi": ("server/",),
    "starlette": ("server/",),
    "uvicorn": ("server/", "cli/", "testing/"),
    "argparse": ("cli/",),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_edge_libraries_are_imported_only_where_allowed() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).as_posix()
        for lib in _imports(path) & ALLOWED.keys():
            if not rel.startswith(ALLOWED[lib]):
                violations.append(f"{rel} imports {lib}")
    assert not violations, violations


def test_importing_polyroute_loads_no_heavy_library() -> None:
    code = (
        "import sys, polyroute, polyroute.routers, polyroute.data;"
        "heavy = {'torch', 'transformers', 'fastapi', 'sentence_transformers', 'onnxruntime'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
