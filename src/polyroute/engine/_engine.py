"""``RoutingEngine``: decide which model answers (profiles, rules, routers) and deliver it.

The engine holds an immutable *view* of the pool (models, deployments, balancers, routers with
onboarded models attached). A pool change published on the state store, or a newer pool version
found in the database (polled at most once a second, for other processes sharing the file),
makes the next request rebuild the view; requests in flight keep the view they started with.
"""

from __future__ import annotations

import copy
import itertools
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from polyroute._types import Deployment
from polyroute.balancing import Balancer, make_balancer
from polyroute.engine._delivery import (
    Completion,
    Deliverer,
    EngineObserver,
    ModelRoute,
    StreamHandle,
)
from polyroute.engine._rules import first_match, make_context
from polyroute.engine._types import Candidate, RouteDecision, RouteRequest
from polyroute.engine._upstream import Upstream
from polyroute.exceptions import (
    ConfigError,
    DataError,
    InvalidRequestError,
    NoEligibleModelError,
    UnknownComponentError,
)
from polyroute.gateway_config import (
    BUILTIN_ROUTER,
    GatewaySettings,
    ModelSettings,
    RoutingProfile,
)
from polyroute.pool import ModelPool, PoolSnapshot
from polyroute.resilience import CircuitBreakerRegistry, RetryPolicy
from polyroute.routers import BaseRouter, fill_unknown_costs, load_router, select
from polyroute.state import StateStore

logger = logging.getLogger(__name__)
PROFILE_PREFIX = "polyroute/"


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


@dataclass
class _View:
    """Everything a request needs, for one pool version (never mutated after build)."""

    snapshot: PoolSnapshot
    routes: dict[str, ModelRoute]
    routers: dict[str, BaseRouter]
    onboarded: dict[str, list[str]] = field(default_factory=dict)


class RoutingEngine:
    """Routes requests to models and delivers them.

    Parameters
    ----------
    settings : GatewaySettings
        Profiles, retry and circuit settings (models come from ``pool``).
    pool : ModelPool
        The live pool.
    store : StateStore
        Shared state: in-flight counts, circuits, pool notifications.
    upstream : Upstream
        HTTP client (see :func:`make_upstream`).
    secret_lookup : callable
        ``lookup(env_name) -> SecretStr | None`` for provider keys.
    encoders : mapping, optional
        Pre-built encoders by name (tests pass a hashing encoder); others are made on demand.
    routers : mapping, optional
        Pre-loaded routers by profile name (otherwise loaded from each profile's artifact).
    observer : EngineObserver, optional
        Receives retry/fallback events.
    config_dir : Path, optional
        Base of relative router paths.
    clock : callable
        Seconds for circuit breakers (wall clock when replicas share a store).
    poll_interval_s : float
        How often the pool file's version and the router artifacts' mtimes are checked (changes
        made by other processes; changes published on ``store`` apply at once).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        pool: ModelPool,
        *,
        store: StateStore,
        upstream: Upstream,
        secret_lookup: Callable[[str | None], SecretStr | None],
        encoders: Mapping[str, Any] | None = None,
        routers: Mapping[str, BaseRouter] | None = None,
        observer: EngineObserver | None = None,
        config_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.store = store
        self.upstream = upstream
        self.profiles = {p.name: p for p in settings.profiles}
        self.breakers = CircuitBreakerRegistry(
            store,
            failure_threshold=settings.circuit.failure_threshold,
            failure_rate=settings.circuit.failure_rate,
            window=settings.circuit.window,
            min_calls=min(10, settings.circuit.window),
            reset_timeout_s=settings.circuit.reset_timeout_s,
            clock=clock,
        )
        r = settings.retry
        policy = RetryPolicy(
            max_attempts=r.max_attempts,
            base_delay_s=r.base_delay_s,
            max_delay_s=r.max_delay_s,
            max_retry_after_s=r.max_retry_after_s,
        )
        self.deliverer = Deliverer(
            upstream=upstream,
            breakers=self.breakers,
            retry=r,
            policy=policy,
            secret_lookup=secret_lookup,
            observer=observer,
        )
        self._encoders: dict[str, Any] = dict(encoders or {})
        self._base_routers: dict[str, BaseRouter] = dict(routers or {})
        self._router_stamps: dict[str, tuple[int, ...]] = {}
        self._poll_interval_s = poll_interval_s
        self._config_dir = config_dir
        self._rr = {name: itertools.count() for name in self.profiles}
        self._balancers: dict[tuple[str, str, str], Balancer] = {}
        self._lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._embed_cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._embed_cache_size = max(
            (p.embedding_cache for p in settings.profiles if p.strategy == "learned"), default=0
        )
        self._dirty = True
        self._checked_at = 0.0
        self._view: _View | None = None
        self._unsubscribe = store.subscribe(ModelPool.TOPIC, lambda version, payload: self._mark())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Load routers and encoders and build the first view (raises on a bad artifact)."""
        for profile in self.profiles.values():
            if profile.strategy == "learned" and profile.name not in self._base_routers:
                self._base_routers[profile.name] = self._load_router(profile)
            if profile.strategy == "learned":
                self._encoder(self._encoder_name(profile), profile.encoder_params)
        self.view()

    def close(self) -> None:
        self._unsubscribe()

    def _mark(self) -> None:
        self._dirty = True

    def _reload_changed_routers(self) -> bool:
        """Reload artifacts rewritten on disk (e.g. by ``polyroute onboard``); True if any."""
        changed = False
        for name, stamp in list(self._router_stamps.items()):
            profile = self.profiles[name]
            path = resolve_router_path(profile.router, base_dir=self._config_dir)
            if _stamp(path) == stamp:
                continue
            try:
                self._base_routers[name] = self._load_router(profile)
            except ConfigError as exc:  # a half-written artifact: keep serving the old one
                logger.warning("router of profile %r changed but did not load: %s", name, exc)
                continue
            logger.info("router of profile %r reloaded from %s", name, path)
            changed = True
        return changed

    def _load_router(self, profile: RoutingProfile) -> BaseRouter:
        path = resolve_router_path(profile.router, base_dir=self._config_dir)
        self._router_stamps[profile.name] = _stamp(path)
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

    def _encoder_name(self, profile: RoutingProfile) -> str:
        router = self._base_routers.get(profile.name)
        return profile.encoder or str(getattr(router, "encoder_", None) or "minilm")

    def _encoder(self, name: str, params: Mapping[str, Any] | None = None) -> Any:
        enc = self._encoders.get(name)
        if enc is None:
            from polyroute.encoders import make_encoder

            enc = self._encoders[name] = make_encoder(name, **dict(params or {}))
        return enc

    def needs_embedding(self, model: str) -> bool:
        """Whether requests for ``model`` (a profile or model name) go through an encoder."""
        profile = self.profiles.get(model.removeprefix(PROFILE_PREFIX))
        return profile is not None and profile.strategy == "learned"

    def embed(self, request: RouteRequest) -> np.ndarray | None:
        """The prompt embedding ``route`` will need for ``request`` (``None`` if none).

        Pure CPU work that releases the GIL (onnxruntime): the server runs it in a worker
        thread and passes the result to :meth:`route` as ``embedding``. Unknown names and rule
        short-cuts return ``None``; ``route`` then raises or decides without it.
        """
        bare = request.model.removeprefix(PROFILE_PREFIX)
        profile = self.profiles.get(bare)
        if profile is None or profile.strategy != "learned":
            return None
        if profile.rules:
            rule = first_match(profile.rules, make_context(request.text, request.metadata))
            if rule is not None and rule.model is not None:
                return None
        return self._embed(profile, request.text)

    def _embed(self, profile: RoutingProfile, text: str) -> np.ndarray:
        name = self._encoder_name(profile)
        key = (name, text)
        with self._cache_lock:
            hit = self._embed_cache.get(key)
            if hit is not None:
                self._embed_cache.move_to_end(key)
                return hit
        X = np.asarray(self._encoder(name, profile.encoder_params).encode([text]))
        if self._embed_cache_size > 0:
            with self._cache_lock:
                self._embed_cache[key] = X
                if len(self._embed_cache) > self._embed_cache_size:
                    self._embed_cache.popitem(last=False)
        return X

    def encoder_for(self, profile_name: str) -> Any:
        """The encoder a learned profile embeds prompts with."""
        profile = self.profiles[profile_name]
        return self._encoder(self.encoder_name_for(profile_name), profile.encoder_params)

    def encoder_name_for(self, profile_name: str) -> str:
        """Registry name of that encoder (recorded with onboarded profiles)."""
        return self._encoder_name(self.profiles[profile_name])

    # ------------------------------------------------------------------ pool view
    def view(self) -> _View:
        """The current view, rebuilt when the pool changed."""
        now = time.monotonic()
        if (
            not self._dirty
            and self._view is not None
            and now - self._checked_at >= self._poll_interval_s
        ):
            self._checked_at = now
            if self.pool.version() != self._view.snapshot.version:
                self._dirty = True
            if self._reload_changed_routers():
                self._dirty = True
        if self._dirty or self._view is None:
            with self._lock:
                if self._dirty or self._view is None:
                    self._dirty = False
                    self._view = self._build_view(self.pool.snapshot())
                    self._checked_at = now
        return self._view

    def _build_view(self, snap: PoolSnapshot) -> _View:
        routes = {name: self._route_for(m) for name, m in snap.models.items()}
        routers: dict[str, BaseRouter] = {}
        onboarded: dict[str, list[str]] = {}
        for pname, base in self._base_routers.items():
            router, added = self._attach_profiles(pname, base, snap)
            routers[pname], onboarded[pname] = router, added
        logger.info(
            "pool view built: version %d, %d models, %d with deployments",
            snap.version,
            len(routes),
            sum(bool(r.deployments) for r in routes.values()),
        )
        return _View(snap, routes, routers, onboarded)

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
        if balancer is None:  # keep balancer state (EWMA, ring, rotation) across pool changes
            balancer = make_balancer(model.balancer, store=self.store, **model.balancer_params)
            self._balancers[bkey] = balancer
        return ModelRoute(model, deps, balancer)

    def _attach_profiles(
        self, pname: str, base: BaseRouter, snap: PoolSnapshot
    ) -> tuple[BaseRouter, list[str]]:
        known = set(base.model_names_)
        new = [p for m, p in snap.profiles.items() if m not in known]
        if not new or not getattr(base, "supports_new_models", False):
            return base, []
        router = copy.deepcopy(base)
        added = []
        enc_name = self._encoder_name(self.profiles[pname])
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
            router.add_models(prof.X, prof.y[:, None], [prof.model], costs=[cost])  # type: ignore[attr-defined]
            added.append(prof.model)
        return router, added

    # ------------------------------------------------------------------ routing
    def resolve(self, name: str) -> tuple[RoutingProfile | None, str | None]:
        """``(profile, None)`` for a profile name, ``(None, model)`` for a pool model."""
        bare = name.removeprefix(PROFILE_PREFIX)
        if bare in self.profiles:
            return self.profiles[bare], None
        if name in self.view().snapshot.models:
            return None, name
        valid = [*self.profiles, *self.view().snapshot.models]
        raise UnknownComponentError("model or routing profile", name, valid)

    def route(self, request: RouteRequest, *, embedding: np.ndarray | None = None) -> RouteDecision:
        """Decide which model answers ``request`` (and the fallback order).

        ``embedding`` is the prompt's embedding from :meth:`embed` when the caller computed it
        already (off the event loop); otherwise learned profiles embed here.

        Raises
        ------
        UnknownComponentError
            ``request.model`` names no profile and no pool model (HTTP 404).
        InvalidRequestError
            ``cost_weight`` outside the profile's allowed range (HTTP 400).
        NoEligibleModelError
            The profile has no candidate model in the pool.
        """
        view = self.view()
        profile, model = self.resolve(request.model)
        if profile is None:
            assert model is not None
            return RouteDecision(
                model=model,
                profile=None,
                strategy="direct",
                reason=f"model {model!r} requested by name",
                cost_weight=None,
                order=(model,),
            )
        lam = self._cost_weight(profile, request.cost_weight)
        candidates = self._candidates(profile, view)
        ctx = make_context(request.text, request.metadata) if profile.rules else None
        rule = first_match(profile.rules, ctx) if ctx is not None else None
        if rule is not None and rule.model is not None:
            if rule.model not in view.snapshot.models:
                raise NoEligibleModelError(
                    f"rule {rule.name!r} targets model {rule.model!r}, which is not in the pool"
                )
            order = _dedupe([rule.model, *self._fallbacks(profile, candidates)])
            return RouteDecision(
                model=rule.model,
                profile=profile.name,
                strategy="rule",
                reason=f"rule {rule.name!r} matched",
                cost_weight=lam,
                order=tuple(order[: profile.max_models]),
                rule=rule.name,
                language=ctx.language if ctx else None,
            )
        if rule is not None and rule.candidates is not None:
            candidates = [m for m in rule.candidates if m in view.snapshot.models]
            if rule.cost_weight is not None and request.cost_weight is None:
                lam = rule.cost_weight
        if not candidates:
            raise NoEligibleModelError(
                f"profile {profile.name!r} has no candidate model in the pool"
            )
        if profile.strategy == "round-robin":
            return self._round_robin(profile, candidates, lam, view)
        X = embedding if embedding is not None else self._embed(profile, request.text)
        return self._learned(
            profile,
            candidates,
            lam,
            X,
            view,
            rule_name=(rule.name if rule else None),
            language=ctx.language if ctx else None,
        )

    def _cost_weight(self, profile: RoutingProfile, asked: float | None) -> float:
        if asked is None:
            return profile.cost_weight
        low, high = profile.cost_weight_range
        if not (isinstance(asked, int | float) and math.isfinite(asked) and low <= asked <= high):
            raise InvalidRequestError(
                f"cost_weight: expected a number in [{low:g}, {high:g}] for "
                f"profile {profile.name!r}, found {asked!r}"
            )
        return float(asked)

    def _candidates(self, profile: RoutingProfile, view: _View) -> list[str]:
        models = view.snapshot.models
        names = [m for m in (profile.candidates or models) if m in models]
        router = view.routers.get(profile.name)
        if router is not None:
            known = set(router.model_names_)
            names = [m for m in names if m in known]
        served = [m for m in names if view.routes[m].deployments]
        return served or names  # with no endpoints at all, still decide (route-only mode)

    def _fallbacks(self, profile: RoutingProfile, candidates: Sequence[str]) -> list[str]:
        return list(profile.fallbacks) if profile.fallbacks is not None else list(candidates)

    def _round_robin(
        self, profile: RoutingProfile, candidates: list[str], lam: float, view: _View
    ) -> RouteDecision:
        i = next(self._rr[profile.name]) % len(candidates)
        order = candidates[i:] + candidates[:i]
        if profile.fallbacks is not None:
            order = _dedupe([order[0], *profile.fallbacks])
        return RouteDecision(
            model=order[0],
            profile=profile.name,
            strategy="round-robin",
            reason=f"static round-robin over {len(candidates)} models",
            cost_weight=None,
            order=tuple(order[: profile.max_models]),
        )

    def _learned(
        self,
        profile: RoutingProfile,
        candidates: list[str],
        lam: float,
        X: np.ndarray,
        view: _View,
        *,
        rule_name: str | None,
        language: str | None,
    ) -> RouteDecision:
        router = view.routers[profile.name]
        idx = router.model_index(candidates)
        scores = router.predict_scores(X)[0, idx]
        costs = np.array([view.snapshot.models[m].routing_cost_usd() for m in candidates])
        top = np.nanmax(costs) if np.isfinite(costs).any() else 0.0
        rel = fill_unknown_costs(costs / top) if top > 0 else np.zeros_like(costs)
        choice = int(select(scores[None, :], rel, cost_weight=lam)[0])
        utility = scores - lam * rel
        ranked = [candidates[j] for j in np.argsort(-utility, kind="stable")]
        order = [candidates[choice], *(m for m in ranked if m != candidates[choice])]
        if profile.fallbacks is not None:
            order = _dedupe([order[0], *profile.fallbacks])
        cluster = _cluster(router, X)
        chosen = candidates[choice]
        cands = tuple(
            Candidate(
                m,
                round(float(scores[j]), 4),
                float(costs[j]),
                round(float(rel[j]), 4),
                round(float(utility[j]), 4),
                bool(view.routes[m].deployments),
            )
            for j, m in enumerate(candidates)
        )
        where = f" in cluster {cluster}" if cluster is not None else ""
        reason = (
            f"{type(router).__name__}: best quality - {lam:g} x relative cost{where} "
            f"(quality {scores[choice]:.3f}, relative cost {rel[choice]:.3f})"
        )
        if rule_name:
            reason = f"rule {rule_name!r} narrowed candidates; " + reason
        return RouteDecision(
            model=chosen,
            profile=profile.name,
            strategy="learned",
            reason=reason,
            cost_weight=lam,
            order=tuple(order[: profile.max_models]),
            candidates=cands,
            cluster=cluster,
            rule=rule_name,
            language=language,
        )

    # ------------------------------------------------------------------ delivery
    async def complete(
        self, decision: RouteDecision, body: dict[str, Any], *, key: str | None = None
    ) -> Completion:
        """Deliver a non-streaming request along ``decision.order``."""
        return await self.deliverer.complete(decision.order, self.view().routes, body, key=key)

    async def stream(
        self, decision: RouteDecision, body: dict[str, Any], *, key: str | None = None
    ) -> StreamHandle:
        """Open a stream along ``decision.order`` (fallback only before the first chunk)."""
        return await self.deliverer.stream(decision.order, self.view().routes, body, key=key)

    # ------------------------------------------------------------------ introspection
    def circuit_states(self) -> dict[str, str]:
        return self.breakers.states()

    def ready(self) -> tuple[bool, str]:
        """Ready when every learned profile has a router and the pool has a model."""
        view = self.view()
        missing = [
            p
            for p, prof in self.profiles.items()
            if prof.strategy == "learned" and p not in view.routers
        ]
        if missing:
            return False, f"profiles without a router: {missing}"
        if not view.snapshot.models:
            return False, "the pool has no model"
        n = sum(bool(r.deployments) for r in view.routes.values())
        return True, f"{len(view.snapshot.models)} models, {n} with deployments"


def _stamp(path: Path) -> tuple[int, ...]:
    """Modification times of a router artifact's files (0 when missing)."""
    out = []
    for name in ("router.json", "arrays.npz"):
        try:
            out.append((path / name).stat().st_mtime_ns)
        except OSError:
            out.append(0)
    return tuple(out)


def _cluster(router: BaseRouter, X: np.ndarray) -> int | None:
    fn = getattr(router, "predict_clusters", None)
    if fn is None:
        return None
    return int(np.asarray(fn(X)).reshape(-1)[0])


def _dedupe(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))
