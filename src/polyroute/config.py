"""Settings: the only module that reads environment variables.

Precedence everywhere: CLI flags > environment ``POLYROUTE_*`` > config file > defaults.
Core code receives plain paths and values from here; it never reads ``os.environ`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from polyroute.exceptions import DataNotFoundError

DATA_DIR_ENV = "POLYROUTE_DATA_DIR"
CACHE_DIR_ENV = "POLYROUTE_CACHE_DIR"


def _default_data_dir_candidates() -> list[Path]:
    """``../shared/data`` beside the working directory and beside the source checkout."""
    checkout = Path(__file__).resolve().parents[2]  # src/polyroute/config.py -> checkout root
    return [Path.cwd().parent / "shared" / "data", checkout.parent / "shared" / "data"]


def resolve_data_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Return the routing-data directory.

    Order: ``explicit`` argument, then ``$POLYROUTE_DATA_DIR``, then ``../shared/data`` when it
    exists. Raises :class:`DataNotFoundError` naming every path tried.
    """
    env = os.environ if environ is None else environ
    if explicit is not None:
        tried = [Path(explicit)]
    elif env.get(DATA_DIR_ENV):
        tried = [Path(env[DATA_DIR_ENV])]
    else:
        tried = _default_data_dir_candidates()
    for path in tried:
        if path.is_dir():
            return path.resolve()
    raise DataNotFoundError(
        "routing data directory not found; tried "
        + ", ".join(str(p) for p in tried)
        + f". Set {DATA_DIR_ENV} to the folder holding routerdc/, mmlu_pro/, ... "
        "or pass --data-dir."
    )


def resolve_cache_dir(
    explicit: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Return (and create) the cache directory: argument, ``$POLYROUTE_CACHE_DIR``, or
    ``$XDG_CACHE_HOME/polyroute`` (``~/.cache/polyroute``)."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        path = Path(explicit)
    elif env.get(CACHE_DIR_ENV):
        path = Path(env[CACHE_DIR_ENV])
    else:
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "polyroute"
    path.mkdir(parents=True, exist_ok=True)
    return path
