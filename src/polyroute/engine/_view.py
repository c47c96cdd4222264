"""The engine's immutable view of one pool version, and the routers behind it.

A view holds what a request needs: the pool snapshot, each model's deployments and balancer,
and each learned profile's router with onboarded models attached. Per-profile candidate tables
(names, router columns, relative costs) are computed once per view, on first use, so a decision
over hundreds of models costs a few vector operations.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from polyroute._types import Deployment
from polyroute.balancing import Balancer, make_balancer
from polyroute.engine._delivery import ModelRoute
from polyroute.exceptions import ConfigError, DataError
from polyroute.gateway_config import BUILTIN_ROUTER, ModelSettings, RoutingProfile
from polyroute.pool import PoolSnapshot
from polyroute.routers import BaseRouter, fill_unknown_costs, load_router
from polyroute.state import StateStore

logger = logging.getLogger(__name__)


def builtin_router_path() -> Path:
    """Folder of the shipped default router artifact."""
    return Path(str(resources.files("polyroute") / "assets" / "default_router"))


def resolve_router_path(spec: str, *, base_dir: Path | None = None) -> Path:
    """``builtin:default`` or a (config-relative) directory path."""
    if spec == BUILTIN_ROUTER:
        return builtin_router_path()
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    return path


@dataclass(frozen=True, slots=True)
class CandidateSet:
    """A profile's candidate models on one view, with what the decision needs as arrays.

    ``columns`` index the router's score matrix; ``relative_cost`` is cost over the dearest
    candidate (unknown costs count as the dearest, see :func:`fill_unknown_costs`).
    """

    models: tuple[str, ...]
    columns: np.ndarray
    cost_usd: np.ndarray
    relative_cost: np.ndarray
    has_deployments: np.ndarray


@dataclass
class PoolView:
    """Everything a request needs, for one pool version (never mutated after build)."""

    snapshot: PoolSnapshot
    routes: dict[str, ModelRoute]
    routers: dict[str, BaseRouter]
    onboarded: dict[str, list[str]] = field(default_factory=dict)
    _sets: dict[tuple[str, tuple[str, ...] | None], CandidateSet] = field(
        default_factory=dict, repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def candidate_names(self, profile: RoutingProfile) -> list[str]:
        """The profile's candidates in the pool (and known to its router), served ones first.

        With no deployment at all the profile still decides (route-only mode).
        """
        models = self.snapshot.models
        names = [m for m in (profile.candidates or models) if m in models]
        router = self.routers.get(profile.name)
        if router is not None:
            known = set(router.model_names_)
            names = [m for m in names if m in known]
        served = [m for m in names if self.routes[m].deployments]
        return served or names

    def candidate_set(
        self, profile: RoutingProfile, narrowed: Sequence[str] | None = None
    ) -> CandidateSet:
        """The learned profile's candidates (or a rule's ``narrowed`` list) as arrays."""
        key = (profile.name, tuple(narrowed) if narrowed is not None else None)
        found = self._sets.get(key)
        if found is not None:
            return found
        if narrowed is None:
            names = self.candidate_names(profile)
        else:
            names = [m for m in narrowed if m in self.snapshot.models]
        router = self.routers[profile.name]
        costs = np.array([self.snapshot.models[m].routing_cost_usd() for m in names], dtype=float)
        top = np.nanmax(costs) if np.isfinite(costs).any() else 0.0
        rel = fill_unknown_costs(costs / top) if top > 0 else np.zeros_like(costs)
        built = CandidateSet(
            models=tuple(names),
            columns=router.model_index(names) if names else np.zeros(0, dtype=np.int64),
            cost_usd=costs,
            relative_cost=rel,
            has_deployments=np.array([bool(self.routes[m].deployments) for m in names]),
        )
        with self._lock:  # rules may name many candidate lists: keep the table bounded
            if len(self._sets) < 256:
                self._sets[key] = built
        return built


class ViewBuilder:
    """Loads routers, watches their artifacts, and builds a :class:`PoolView` per pool version.

    Balancers are kept across views (their state: EWMA, ring, rotation) by model and settings.
    """

    def __init__(
        self,
        profiles: Mapping[str, RoutingProfile],
        *,
        store: StateStore,
        routers: Mapping[str, BaseRouter] | None,
        config_dir: Path | None,
    ) -> None:
        self.profiles = profiles
        self.store = store
        self.config_dir = config_dir
        self.base_routers: dict[str, BaseRouter] = dict(routers or {})
        self._stamps: dict[str, tuple[int, ...]] = {}
        self._balancers: dict[tuple[str, str, str], Balancer] = {}

    # ------------------------------------------------------------------ routers
    def load_routers(self) -> None:
        """Load every learned profile's artifact not passed in (raises on a bad one)."""
        for profile in self.profiles.values():
            if profile.strategy == "learned" and profile.name not in self.base_routers:
                self.base_routers[profile.name] = self._load_router(profile)

    def reload_changed_routers(self) -> bool:
        """Reload artifacts rewritten on disk (e.g. by ``polyroute onboard``); True if any."""
        changed = False
        for name, stamp in list(self._stamps.items()):
            profile = self.profiles[name]
            path = resolve_router_path(profile.router, base_dir=self.config_dir)
            if _stamp(path) == stamp:
                continue
            try:
                self.base_routers[name] = self._load_router(profile)
            except ConfigError as exc:  # a half-written artifact: keep serving the old one
                logger.warning("router of profile %r changed but did not load: %s", name, exc)
                continue
            logger.info("router of profile %r reloaded from %s", name, path)
            changed = True
        return changed

    def _load_router(self, profile: RoutingProfile) -> BaseRouter:
        path = resolve_router_path(profile.router, base_dir=self.config_dir)
        self._stamps[profile.name] = _stamp(path)
        try:
            router = load_router(path)
        except (DataError, OSError) as exc:
            hint = (
                " (the packaged default router artifact is missing; reinstall polyroute or "
                "point router: at a directory written by 'polyroute fit')"
                if profile.router == BUILTIN_ROUTER
                else ""
            )
            raise ConfigError(
                f"profile {profile.name!r}: cannot load router {path}: {exc}{hint}"
            ) from None
        if profile.router_params:
            router.set_params(**profile.router_params)
        return router

    # ------------------------------------------------------------------ views
    def build(self, snap: PoolSnapshot, encoder_names: Mapping[str, str]) -> PoolView:
        """A view of ``snap``; ``encoder_names`` maps learned profiles to their encoder."""
        routes = {name: self._route_for(m) for name, m in snap.models.items()}
        routers: dict[str, BaseRouter] = {}
        onboarded: dict[str, list[str]] = {}
        for pname, base in self.base_routers.items():
            router, added = _attach_profiles(base, snap, encoder_names.get(pname), pname)
            routers[pname], onboarded[pname] = router, added
        logger.info(
            "pool view built: version %d, %d models, %d with deployments",
            snap.version,
            len(routes),
            sum(bool(r.deployments) for r in routes.values()),
        )
        return PoolView(snap, routes, routers, onboarded)

    def _route_for(self, model: ModelSettings) -> ModelRoute:
        deps = tuple(
            Deployment(
                name=d.name,
                model=model.name,
                base_url=d.base_url,
                api_key_env=d.api_key_env,
                weight=d.weight,
                max_concurrency=d.max_concurrency,
            )
            for d in model.deployments
        )
        bkey = (model.name, model.balancer, repr(sorted(model.balancer_params.items())))
        balancer = self._balancers.get(bkey)
        if balancer is None:
            balancer = make_balancer(model.balancer, store=self.store, **model.balancer_params)
            self._balancers[bkey] = balancer
        return ModelRoute(model, deps, balancer)


def _attach_profiles(
    base: BaseRouter, snap: PoolSnapshot, enc_name: str | None, pname: str
) -> tuple[BaseRouter, list[str]]:
    """A copy of ``base`` with the pool's onboarded models added (``base`` when none apply)."""
    known = set(base.model_names_)
    new = [p for m, p in snap.profiles.items() if m not in known]
    if not new or not getattr(base, "supports_new_models", False):
        return base, []
    router = copy.deepcopy(base)
    added = []
    for prof in new:
        if prof.encoder != enc_name:
            logger.warning(
                "profile of %r was embedded with %r; router %r uses %r: skipped",
                prof.model,
                prof.encoder,
                pname,
                enc_name,
            )
            continue
        cost = snap.models[prof.model].routing_cost_usd()
        router.add_models(prof.X, prof.y[:, None], [prof.model], costs=[cost])
        added.append(prof.model)
    return router, added


def _stamp(path: Path) -> tuple[int, ...]:
    """Modification times of a router artifact's files (0 when missing)."""
    out = []
    for name in ("router.json", "arrays.npz"):
        try:
            out.append((path / name).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)
