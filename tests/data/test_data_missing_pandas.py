"""Without the eval extra, the file loaders say which extra to install (no bare ImportError)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import sys
sys.modules["pandas"] = None  # `import pandas` now fails, as in the lean install
from polyroute.data import read_routing_file
from polyroute.exceptions import MissingDependencyError
try:
    read_routing_file(sys.argv[1])
except MissingDependencyError as exc:
    print(exc)
"""


def test_reading_a_routing_file_without_pandas_names_the_eval_extra(tmp_path: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("prompt,a,b\nhello,1,0\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)], capture_output=True, text=True, check=True
    )
    assert "pip install 'polyroute[eval]'" in out.stdout and "pandas" in out.stdout
