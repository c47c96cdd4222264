"""Start-up cost: ``import polyroute`` and ``polyroute --help``, before and after, same run.

Each case runs in a fresh interpreter; the "before" tree is ``git archive`` of ``--before``
(default: the commit before the lazy imports), the "after" tree is this checkout's ``src``. Runs
are interleaved (before, after, before, ...) after one discarded warm-up run each (byte-compiles
the trees), so that load on the machine hits both alike. Reported
per case: the median wall time of the whole process (interpreter start-up included) and the
median of ``python -X importtime``'s cumulative time of all top-level imports.

Run: python bench/bench_import.py [--before REF] [--repeat 15]
Writes docs/results/import_time.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "import polyroute": "import polyroute",
    "polyroute --help": (
        "import contextlib, io\n"
        "from polyroute.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass"
    ),
}


def _checkout(ref: str, dest: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest / "src"


def _run(src: Path, code: str) -> tuple[float, float]:
    """(wall seconds, seconds of top-level imports per -X importtime) of one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall = time.perf_counter() - start
    top_us = 0
    for line in out.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3 or not fields[1].strip().isdigit():
            continue  # the header line, or output that is not importtime's
        if not fields[2][1:].startswith(" "):  # nested imports are indented under their parent
            top_us += int(fields[1])
    return wall, top_us / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="64f5262", help="git ref of the 'before' tree")
    parser.add_argument("--repeat", type=int, default=15, help="runs per case and tree")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": _checkout(args.before, Path(tmp)), "after": ROOT / "src"}
        samples: dict[str, dict[str, list[tuple[float, float]]]] = {
            case: {tree: [] for tree in trees} for case in CASES
        }
        for code in CASES.values():  # warm-up: byte-compile both trees, fill OS caches
            for src in trees.values():
                _run(src, code)
        for _ in range(args.repeat):
            for case, code in CASES.items():
                for tree, src in trees.items():
                    samples[case][tree].append(_run(src, code))
    results = {
        case: {
            tree: {
                "wall_s_median": round(statistics.median(w for w, _ in runs), 3),
                "importtime_s_median": round(statistics.median(t for _, t in runs), 3),
            }
            for tree, runs in by_tree.items()
        }
        for case, by_tree in samples.items()
    }
    command = "python bench/bench_import.py " + shlex.join(sys.argv[1:])
    payload = {
        "command": command,
        "before": args.before,
        "repeat": args.repeat,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "results": results,
    }
    out = ROOT / "docs" / "results"
    (out / "import_time.json").write_text(json.dumps(payload, indent=2) + "\n")
    rows = "\n".join(
        f"| `{case}` | {r['before']['wall_s_median']} | {r['after']['wall_s_median']} "
        f"| {r['before']['importtime_s_median']} | {r['after']['importtime_s_median']} |"
        for case, r in results.items()
    )
    (out / "import_time.md").write_text(
        "# Start-up time: before and after the lazy imports (same run, interleaved)\n\n"
        f"Command: `{command}` (before = `{args.before}`; medians of {args.repeat} fresh "
        "processes per cell; wall time includes the interpreter's own start-up; importtime is "
        "the sum of `python -X importtime`'s cumulative times of the top-level imports).\n\n"
        "| case | wall before (s) | wall after (s) | importtime before (s) | importtime after (s) |\n"
        f"|---|---:|---:|---:|---:|\n{rows}\n"
    )
    print(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
