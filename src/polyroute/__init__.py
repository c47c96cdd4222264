"""polyroute: route each LLM request to the right model in a changing pool, then deliver it.

The names below load on first use (PEP 562): ``import polyroute`` stays cheap (no numpy,
scikit-learn or scipy), so the CLI and the gateway start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from polyroute._version import __version__
from polyroute.exceptions import DataError, PolyrouteError

if TYPE_CHECKING:
    from polyroute.data import RoutingDataset
    from polyroute.routers import BaseRouter, make_router, select

_LAZY = {
    "BaseRouter": "polyroute.routers",
    "RoutingDataset": "polyroute.data",
    "make_router": "polyroute.routers",
    "select": "polyroute.routers",
}

__all__ = [
    "BaseRouter",
    "DataError",
    "PolyrouteError",
    "RoutingDataset",
    "__version__",
    "make_router",
    "select",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'polyroute' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later look-ups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
