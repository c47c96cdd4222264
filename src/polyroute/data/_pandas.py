"""pandas on demand: it is in the ``eval`` extra, and only the file loaders need it."""

from __future__ import annotations

from typing import Any

from polyroute.exceptions import MissingDependencyError


def import_pandas() -> Any:
    """The pandas module; ``MissingDependencyError`` naming the ``eval`` extra when missing."""
    try:
        import pandas
    except ImportError as exc:
        raise MissingDependencyError("pandas (to read routing data files)", "eval") from exc
    return pandas
