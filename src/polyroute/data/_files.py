"""Small file helpers shared by the loaders: existence checks with the path in the message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyroute.exceptions import DataError, DataNotFoundError


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataNotFoundError(
            f"data file not found: {path} (is the data directory right? "
            "set POLYROUTE_DATA_DIR or pass --data-dir)"
        )
    return path


def read_json(path: Path) -> Any:
    try:
        return json.loads(require_file(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
