"""``TrafficRecorder``: what the gateway calls per request (budgets, λ, logging) and per
feedback (checks, ownership, online profile update). Server-agnostic and synchronous; nothing
here waits on the store except feedback, which the server runs off the event loop.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter
from polyroute.traffic._budget import Budget, SpendTracker
from polyroute.traffic._online import OnlineSettings, apply_feedback
from polyroute.traffic._record import DecisionRecord
from polyroute.traffic._settings import TrafficSettings
from polyroute.traffic._store import LogStore
from polyroute.traffic._writer import DecisionLog


class FeedbackError(DataError):
    """Feedback the gateway refuses: ``status`` 400 (malformed) or 404 (no such request)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class _Recent:
    key_id: str | None
    profile: str | None
    model: str
    cluster: int | None


class TrafficRecorder:
    """Decision log + spend/budgets + feedback → online profiles, for one gateway process.

    Parameters
    ----------
    settings : TrafficSettings
    store : LogStore, optional
        Required when ``settings.log`` is on.
    clock : callable
        Wall-clock seconds (budget periods, record times).
    """

    def __init__(
        self,
        settings: TrafficSettings,
        store: LogStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if settings.log and store is None:
            raise DataError("traffic.log is on but no log store was given")
        self.settings = settings
        self.store = store
        self.log = (
            DecisionLog(
                store,
                max_queue=settings.queue_size,
                batch_size=settings.batch_size,
                flush_interval_s=settings.flush_interval_s,
                clock=clock,
            )
            if settings.log and store is not None
            else None
        )
        o = settings.online_profiles
        self.online = OnlineSettings(o.decay, o.forget, o.min_count, o.prior_weight)
        self.spend = SpendTracker(
            [Budget(b.key, b.limit_usd, b.period_s, b.mode) for b in settings.budgets],
            clock=clock,
        )
        self._clock = clock
        # Recently decided requests: feedback works before their record reaches the store.
        self._recent: OrderedDict[str, _Recent] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._live: dict[str, tuple[int, int, BaseRouter]] = {}
        self._live_checked: dict[str, float] = {}

    # ------------------------------------------------------------------ request path
    def submit(self, record: DecisionRecord) -> None:
        """Queue ``record`` (never blocks; dropped and counted when the queue is full)."""
        with self._recent_lock:
            self._recent[record.request_id] = _Recent(
                record.key_id, record.profile, record.model, record.cluster
            )
            if len(self._recent) > 100_000:
                self._recent.popitem(last=False)
        if self.log is not None:
            self.log.submit(record)

    def live_router(
        self, profile: str, router: BaseRouter, *, max_age_s: float = 1.0
    ) -> BaseRouter:
        """``router`` with the profile's online feedback applied (re-read at most every
        ``max_age_s``, and at once after feedback recorded by this process)."""
        if self.store is None or not self.settings.online_profiles.enabled:
            return router
        if not hasattr(router, "counts_"):
            return router
        now = time.monotonic()
        cached = self._live.get(profile)
        fresh = now - self._live_checked.get(profile, -math.inf) < max_age_s
        if cached is not None and cached[1] == id(router) and fresh:
            return cached[2]
        event, counts = self.store.feedback_counts(profile)
        live = apply_feedback(router, counts, event=event, settings=self.online)
        self._live[profile] = (event, id(router), live)
        self._live_checked[profile] = now
        return live

    # ------------------------------------------------------------------ feedback
    def feedback(
        self,
        key_id: str | None,
        body: Any,
        *,
        router_for: Callable[[str], BaseRouter | None] | None = None,
    ) -> dict[str, Any]:
        """Record a graded outcome for one of ``key_id``'s own requests.

        Raises
        ------
        FeedbackError
            400 for a malformed body or a score outside [0, 1]; 404 for an unknown request id
            or a request made with another key (indistinguishable on purpose).
        """
        if self.store is None:
            raise FeedbackError(404, "feedback needs the decision log (traffic.log: true)")
        request_id, score = parse_feedback(body)
        with self._recent_lock:
            seen = self._recent.get(request_id)
        if seen is None:
            rec = self.store.get(request_id)
            if rec is not None:
                seen = _Recent(rec.key_id, rec.profile, rec.model, rec.cluster)
        if seen is None or seen.key_id != key_id:
            raise FeedbackError(404, f"no request {request_id!r} made with this key")
        self.store.set_feedback(request_id, score, source="api")
        updated = False
        router = router_for(seen.profile) if router_for and seen.profile else None
        counts = getattr(router, "counts_", None)
        if (
            self.settings.online_profiles.enabled
            and seen.profile is not None
            and seen.cluster is not None
            and counts is not None
        ):
            self.store.record_outcome(
                seen.profile,
                seen.model,
                n_cells=int(counts.shape[1]),
                cell=seen.cluster,
                score=score,
                settings=self.online,
            )
            self._live_checked.pop(seen.profile, None)
            updated = True
        return {"request_id": request_id, "score": score, "profile_updated": updated}

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
        if self.store is not None:
            self.store.close()


def parse_feedback(body: Any) -> tuple[str, float]:
    """``(request_id, score)`` from a feedback body, or a 400 :class:`FeedbackError`."""
    if not isinstance(body, dict):
        raise FeedbackError(
            400, f"expected a JSON object with request_id and score, found {type(body).__name__}"
        )
    rid = body.get("request_id")
    if not isinstance(rid, str) or not rid:
        raise FeedbackError(400, f"'request_id': expected a non-empty string, found {rid!r}")
    score = body.get("score")
    if (
        isinstance(score, bool)
        or not isinstance(score, int | float)
        or not math.isfinite(score)
        or not 0.0 <= score <= 1.0
    ):
        raise FeedbackError(400, f"'score': expected a number in [0, 1], found {score!r}")
    extra = sorted(set(body) - {"request_id", "score"})
    if extra:
        raise FeedbackError(400, f"unexpected field(s) {extra}; expected request_id and score")
    return rid, float(score)
