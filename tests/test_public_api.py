"""Every public package lists its names in a sorted, complete ``__all__``."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import polyroute


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else, each alphabetical."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


PACKAGES = [
    *sorted(
        name
        for _, name, is_pkg in pkgutil.walk_packages(polyroute.__path__, "polyroute.")
        if is_pkg and not name.rsplit(".", 1)[-1].startswith("_")
    ),
    "polyroute",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    if name == "polyroute.cli":
        return  # the CLI's surface is its commands, not names
    assert exported is not None, f"{name} has no __all__"
    assert list(exported) == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"
