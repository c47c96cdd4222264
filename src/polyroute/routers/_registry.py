"""Router registry: kebab-case name -> ``"module:Class"``, imported lazily.

Third-party routers register through the entry-point group ``polyroute.routers``.
"""

from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from polyroute.exceptions import DataError, DataNotFoundError, UnknownComponentError

if TYPE_CHECKING:
    from polyroute.routers._base import BaseRouter

_BUILTIN: dict[str, str] = {
    "random": "polyroute.routers._baselines:RandomRouter",
    "best-single": "polyroute.routers._baselines:BestSingleRouter",
    "cheapest": "polyroute.routers._baselines:CheapestRouter",
    "zero-router": "polyroute.routers._baselines:ZeroRouter",
    "oracle": "polyroute.routers._baselines:OracleRouter",
    "task-oracle": "polyroute.routers._baselines:TaskOracleRouter",
    "knn": "polyroute.routers._knn:KNNRouter",
    "mlp": "polyroute.routers._mlp:MLPRouter",
    "linear": "polyroute.routers._mlp:LinearRouter",
    "uniroute-kmeans": "polyroute.routers._uniroute:ClusterRouter",
    "uniroute-learnedmap": "polyroute.routers._uniroute_learnedmap:LearnedMapRouter",
    "routerdc": "polyroute.routers._routerdc:ContrastiveRouter",
    "routerdc-finetune": "polyroute.routers._routerdc_finetune:FinetunedContrastiveRouter",
}


def available_routers() -> dict[str, str]:
    """All registered names (built-in and entry points) -> ``"module:Class"``."""
    found = dict(_BUILTIN)
    for ep in entry_points(group="polyroute.routers"):
        found.setdefault(ep.name, ep.value)
    return found


def router_class(name: str) -> type[BaseRouter]:
    table = available_routers()
    if name not in table:
        raise UnknownComponentError("router", name, list(table))
    module, _, attr = table[name].partition(":")
    cls: type[BaseRouter] = getattr(importlib.import_module(module), attr)
    return cls


def make_router(name: str, **params: Any) -> BaseRouter:
    """Build a router by registry name, e.g. ``make_router("knn", n_neighbors=50)``."""
    return router_class(name)(**params)


def registry_name(cls: type) -> str:
    target = f"{cls.__module__}:{cls.__qualname__}"
    for name, path in available_routers().items():
        if path == target:
            return name
    return target


def load_router(path: str | Path) -> BaseRouter:
    """Load a router directory written by ``BaseRouter.save``."""
    folder = Path(path)
    meta_path = folder / "router.json"
    if not meta_path.is_file():
        raise DataNotFoundError(f"no saved router at {folder}: expected {meta_path}")
    try:
        meta = json.loads(meta_path.read_text())
        name, params, learned = meta["router"], meta["params"], meta["learned"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{meta_path} is not a polyroute router file: {exc}") from exc
    if ":" in name:
        module, _, attr = name.partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        cls = router_class(name)
    router = cls(**params)
    arrays_path = folder / "arrays.npz"
    with np.load(arrays_path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    router._restore(learned, arrays)
    loaded: BaseRouter = router
    return loaded
