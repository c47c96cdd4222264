"""Every registered router passes ``check_router`` (routers whose module is not written yet, or
whose optional dependency is missing, are skipped with the reason)."""

from __future__ import annotations

import importlib

import pytest

from polyroute.exceptions import MissingDependencyError
from polyroute.routers import available_routers, router_class
from polyroute.testing import check_router


def _importable(name: str) -> str | None:
    module = available_routers()[name].partition(":")[0]
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return f"{module} is not written yet"
        return f"optional dependency missing: {exc.name}"
    except MissingDependencyError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("name", sorted(available_routers()))
def test_registered_router_conforms(name: str) -> None:
    reason = _importable(name)
    if reason is not None:
        pytest.skip(reason)
    cls = router_class(name)
    # A slow router may offer small settings for this check (e.g. fewer training steps).
    fast = getattr(cls, "_check_params", None)
    check_router(cls, params=fast() if callable(fast) else None)
