"""``RoutingEngine``: decide which model answers (profiles, rules, routers) and deliver it.

One request is one pass: :meth:`RoutingEngine.decide` looks the profile up once, runs its rules
once, embeds the prompt on the engine's worker thread when the profile is learned, and returns a
:class:`RouteDecision` bound to the pool view it was made on; :meth:`RoutingEngine.complete` and
:meth:`RoutingEngine.stream` deliver along that decision on that same view.

The view is immutable. A pool change published on the state store, or a newer pool version
found in the database (polled at most once a second, for other processes sharing the file),
makes the next request build a new view; requests in flight keep the view they started with.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from polyroute.engine import _decide
from polyroute.engine._delivery import Completion, Deliverer, EngineObserver, StreamHandle
from polyroute.engine._embedding import Embedder
from polyroute.engine._latency import relative_latency
from polyroute.engine._rules import Signals, first_match, make_context
from polyroute.engine._types import RouteDecision, RouteRequest
from polyroute.engine._upstream import Upstream
from polyroute.engine._view import CandidateSet, PoolView, ViewBuilder, resolve_router_path
from polyroute.exceptions import NoEligibleModelError, UnknownComponentError
from polyroute.gateway_config import GatewaySettings, RoutingProfile
from polyroute.pool import ModelPool
from polyroute.resilience import CircuitBreakerRegistry, RetryPolicy
from polyroute.routers import BaseRouter
from polyroute.state import StateStore

PROFILE_PREFIX = "polyroute/"


@dataclass(frozen=True, slots=True)
class _Learned:
    """A learned decision waiting for its prompt embedding (rules already applied)."""

    profile: RoutingProfile
    view: PoolView
    cost_weight: float
    candidates: CandidateSet
    rule: str | None
    language: str | None
    difficulty: float | None = None


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
        Receives retry/fallback events and embedding times.
    config_dir : Path, optional
        Base of relative router paths.
    clock : callable
        Seconds for circuit breakers (wall clock when replicas share a store).
    poll_interval_s : float
        How often the pool file's version and the router artifacts' mtimes are checked (changes
        made by other processes; changes published on ``store`` apply at once).
    router_overlay : callable, optional
        ``overlay(profile_name, router) -> router`` applied before each learned decision (the
        gateway's online profiles from feedback, :mod:`polyroute.traffic`).
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
        router_overlay: Callable[[str, BaseRouter], BaseRouter] | None = None,
    ) -> None:
        self.settings = settings
        self._router_overlay = router_overlay
        self.pool = pool
        self.store = store
        self.upstream = upstream
        self.profiles = {p.name: p for p in settings.profiles}
        c = settings.circuit
        self.breakers = CircuitBreakerRegistry(
            store,
            failure_threshold=c.failure_threshold,
            failure_rate=c.failure_rate,
            window=c.window,
            min_calls=min(10, c.window),
            reset_timeout_s=c.reset_timeout_s,
            clock=clock,
        )
        self.deliverer = Deliverer(
            upstream=upstream,
            breakers=self.breakers,
            retry=settings.retry,
            policy=RetryPolicy.from_settings(settings.retry),
            secret_lookup=secret_lookup,
            observer=observer,
        )
        self.deliverer.latency.decay_half_life_s = settings.server.latency_half_life_s
        self.embedder = Embedder(
            encoders,
            max_pending=settings.server.max_pending_embeddings,
            on_embedded=observer.on_embedding if observer is not None else None,
        )
        for p in settings.profiles:  # each profile's own cache size; 0 = none at all
            if p.strategy == "learned":
                self.embedder.set_cache(p.name, p.embedding_cache)
        self._views = ViewBuilder(
            self.profiles, store=store, routers=routers, config_dir=config_dir
        )
        self._poll_interval_s = poll_interval_s
        self._rr = {name: itertools.count() for name in self.profiles}
        self._signals: dict[str, Signals] = {}
        self._config_dir = config_dir
        self._lock = threading.Lock()
        self._dirty = True
        self._checked_at = 0.0
        self._view: PoolView | None = None
        self._unsubscribe = store.subscribe(ModelPool.TOPIC, lambda version, payload: self._mark())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Load routers and encoders and build the first view (raises on a bad artifact)."""
        self._views.load_routers()
        for profile in self.profiles.values():
            if profile.strategy == "learned":
                self.encoder_for(profile.name)
                self.signals_for(profile.name)
            if profile.rules:
                from polyroute.context import load_language_model

                load_language_model()  # the model loads at start-up, not on a first request
        self.view()

    def close(self) -> None:
        self._unsubscribe()
        self.embedder.close()

    def _mark(self) -> None:
        self._dirty = True

    def encoder_for(self, profile_name: str) -> Any:
        """The encoder a learned profile embeds prompts with."""
        profile = self.profiles[profile_name]
        return self.embedder.encoder(self.encoder_name_for(profile_name), profile.encoder_params)

    def signals_for(self, profile_name: str) -> Signals:
        """A learned profile's topic index and difficulty model (built once)."""
        signals = self._signals.get(profile_name)
        if signals is None:
            profile = self.profiles[profile_name]
            router_dir = resolve_router_path(profile.router, base_dir=self._config_dir)
            enc = self.encoder_name_for(profile_name)
            signals = Signals.build(profile, self.encoder_for(profile_name), enc, router_dir)
            self._signals[profile_name] = signals
        return signals

    def _embed_first(self, request: RouteRequest) -> str | None:
        """The learned profile whose rules read the embedding, so it is embedded before them."""
        profile = self.profiles.get(request.model.removeprefix(PROFILE_PREFIX))
        if profile is None or profile.strategy != "learned":
            return None
        return profile.name if Signals.needs_embedding(profile) else None

    def encoder_name_for(self, profile_name: str) -> str:
        """Registry name of that encoder (recorded with onboarded profiles)."""
        profile = self.profiles[profile_name]
        router = self._views.base_routers.get(profile_name)
        return profile.encoder or str(getattr(router, "encoder_", None) or "minilm")

    # ------------------------------------------------------------------ pool view
    def view(self) -> PoolView:
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
            if self._views.reload_changed_routers():
                self._dirty = True
        if self._dirty or self._view is None:
            with self._lock:
                if self._dirty or self._view is None:
                    self._dirty = False
                    names = {
                        p: self.encoder_name_for(p)
                        for p in self._views.base_routers
                        if p in self.profiles
                    }
                    self._view = self._views.build(self.pool.snapshot(), names)
                    self._checked_at = now
        return self._view

    # ------------------------------------------------------------------ deciding
    def resolve(self, name: str) -> tuple[RoutingProfile | None, str | None]:
        """``(profile, None)`` for a profile name, ``(None, model)`` for a pool model."""
        return self._resolve(name, self.view())

    def _resolve(self, name: str, view: PoolView) -> tuple[RoutingProfile | None, str | None]:
        profile = self.profiles.get(name.removeprefix(PROFILE_PREFIX))
        if profile is not None:
            return profile, None
        if name in view.snapshot.models:
            return None, name
        valid = [*self.profiles, *view.snapshot.models]
        raise UnknownComponentError("model or routing profile", name, valid)

    async def decide(self, request: RouteRequest, *, explain: bool = False) -> RouteDecision:
        """Decide which model answers ``request`` (and the fallback order), in one pass.

        A learned profile's prompt is embedded on the engine's worker thread, so the event
        loop keeps serving meanwhile. ``explain=True`` also finds the prompt's cluster (for
        ``/v1/route`` and ``polyroute route``): a second pass over the router's clusters that
        the chat path does not need.

        Raises
        ------
        UnknownComponentError
            ``request.model`` names no profile and no pool model (HTTP 404).
        InvalidRequestError
            ``cost_weight`` outside the profile's allowed range (HTTP 400).
        NoEligibleModelError
            The profile has no candidate model in the pool.
        EncoderSaturatedError
            Too many prompts already wait for the encoder (HTTP 503, retry shortly).
        """
        X = None
        first = self._embed_first(request)
        if first is not None:
            X = await self.embedder.embed_async(
                first,
                self.encoder_name_for(first),
                self.profiles[first].encoder_params,
                request.text,
            )
        step = self._begin(request, X)
        if isinstance(step, RouteDecision):
            return step
        if X is None:
            name = self.encoder_name_for(step.profile.name)
            X = await self.embedder.embed_async(
                step.profile.name, name, step.profile.encoder_params, request.text
            )
        return self._conclude(step, X, explain, request.text)

    def route(self, request: RouteRequest, *, explain: bool = False) -> RouteDecision:
        """:meth:`decide` without an event loop: the prompt is embedded on the calling thread
        (the CLI, notebooks, tests)."""
        X = None
        first = self._embed_first(request)
        if first is not None:
            enc = self.encoder_name_for(first)
            X = self.embedder.embed(first, enc, self.profiles[first].encoder_params, request.text)
        step = self._begin(request, X)
        if isinstance(step, RouteDecision):
            return step
        if X is None:
            name = self.encoder_name_for(step.profile.name)
            X = self.embedder.embed(
                step.profile.name, name, step.profile.encoder_params, request.text
            )
        return self._conclude(step, X, explain, request.text)

    def _begin(self, request: RouteRequest, X: np.ndarray | None) -> RouteDecision | _Learned:
        """Everything before the learned choice: profile, λ, rules (once), candidates.

        ``X`` is the prompt's embedding when the profile's rules read it (topic, difficulty).
        """
        view = self.view()
        profile, model = self._resolve(request.model, view)
        if profile is None:
            assert model is not None
            return _decide.direct(model, view)
        lam = _decide.cost_weight(profile, request.cost_weight)
        rule, language, difficulty = None, None, None
        if profile.rules:
            signals = self.signals_for(profile.name) if X is not None else None
            ctx = make_context(request.text, request.metadata, embedding=X, signals=signals)
            rule, language = first_match(profile.rules, ctx), ctx.language
            difficulty = ctx.__dict__.get("difficulty")  # only when a rule computed it
        if rule is not None and rule.model is not None:
            decision = _decide.by_rule(profile, rule, language, lam, view)
            return replace(decision, difficulty=difficulty) if difficulty is not None else decision
        narrowed = rule.candidates if rule is not None else None
        if rule is not None and rule.cost_weight is not None and request.cost_weight is None:
            lam = rule.cost_weight
        if profile.strategy == "round-robin":
            if narrowed is not None:
                names = [m for m in narrowed if m in view.snapshot.models]
            else:
                names = view.candidate_names(profile)
            if not names:
                raise _no_candidates(profile)
            return _decide.round_robin(profile, names, self._rr[profile.name], view)
        cset = view.candidate_set(profile, narrowed)
        if not cset.models:
            raise _no_candidates(profile)
        return _Learned(profile, view, lam, cset, rule.name if rule else None, language, difficulty)

    def _conclude(
        self, step: _Learned, X: np.ndarray, explain: bool, text: str = ""
    ) -> RouteDecision:
        router = step.view.routers[step.profile.name]
        if self._router_overlay is not None:  # online profiles from feedback
            router = self._router_overlay(step.profile.name, router)
        scores, support = router.predict_scores(X, return_support=True)
        decision = self._choose(step, X, scores[0], explain, router, float(support[0]))
        difficulty = step.difficulty
        model = self.signals_for(step.profile.name).difficulty
        if difficulty is None and model is not None and text:
            difficulty = float(model.predict(X, [text])[0])
        return replace(decision, difficulty=difficulty) if difficulty is not None else decision

    def _choose(
        self,
        step: _Learned,
        X: np.ndarray,
        scores: np.ndarray,
        explain: bool,
        router: BaseRouter | None = None,
        support: float | None = None,
    ) -> RouteDecision:
        """The decision step after ``predict_scores`` (``bench/bench_scaling.py`` times it)."""
        if router is None:
            router = step.view.routers[step.profile.name]
        mu = step.profile.latency_weight
        latency_term = None
        if mu > 0:
            lat = self.deliverer.latency.estimates(step.candidates.models)
            latency_term = mu * relative_latency(lat)
        decision = _decide.learned(
            step.profile,
            step.candidates,
            step.cost_weight,
            scores,
            step.view,
            router_name=type(router).__name__,
            cluster=_cluster(router, X) if explain else None,
            rule=step.rule,
            language=step.language,
            support=support,
            support_note=_support_note(router, X, support),
            latency_term=latency_term,
        )
        return dataclasses.replace(decision, embedding=X[0])

    # ------------------------------------------------------------------ delivery
    async def complete(
        self, decision: RouteDecision, body: dict[str, Any], *, key: str | None = None
    ) -> Completion:
        """Deliver a non-streaming request along ``decision.order`` on the decision's view."""
        view = decision.view or self.view()
        return await self.deliverer.complete(decision.order, view.routes, body, key=key)

    async def stream(
        self, decision: RouteDecision, body: dict[str, Any], *, key: str | None = None
    ) -> StreamHandle:
        """Open a stream along ``decision.order`` (fallback only before the first chunk)."""
        view = decision.view or self.view()
        return await self.deliverer.stream(decision.order, view.routes, body, key=key)

    # ------------------------------------------------------------------ introspection
    def circuit_states(self) -> dict[str, str]:
        states: dict[str, str] = dict(self.breakers.states())
        return states

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


def _no_candidates(profile: RoutingProfile) -> NoEligibleModelError:
    return NoEligibleModelError(f"profile {profile.name!r} has no candidate model in the pool")


def _support_note(router: BaseRouter, X: np.ndarray, support: float | None) -> str | None:
    """Why the prediction leaned on the prior; only low-support prompts pay for the similarity."""
    if support is None or support >= 1.0:
        return None
    _, similarity = router.predict_support(X, return_similarity=True)
    return router.support_reason(support, float(similarity[0]))


def _cluster(router: BaseRouter, X: np.ndarray) -> int | None:
    fn = getattr(router, "predict_clusters", None)
    if fn is None:
        return None
    return int(np.asarray(fn(X)).reshape(-1)[0])
