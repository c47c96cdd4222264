"""Replay logged traffic through another router or λ: what it would have chosen, at what cost.

Every figure says where it comes from: ``usage × prices`` (logged answers), ``logged prices``
(the routing cost estimates the gateway logged, corrected by each model's logged usage),
``router prediction`` (predicted quality) and ``logged feedback`` (graded outcomes, only on the
requests where the replayed choice is the model that actually answered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter, select
from polyroute.traffic._frame import frame_from_records
from polyroute.traffic._record import DecisionRecord


@dataclass(frozen=True)
class Figure:
    """A number and its source."""

    value: float | None
    source: str
    n: int


@dataclass(frozen=True)
class ReplaySide:
    """Share per model, cost and quality of one way of routing the logged requests."""

    share: dict[str, float]
    cost_per_1k_usd: Figure
    quality: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class ReplayReport:
    n_requests: int
    n_skipped: int
    logged: ReplaySide
    replayed: ReplaySide
    cost_weight: str

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def replay(
    records: Sequence[DecisionRecord],
    router: BaseRouter,
    *,
    cost_weight: float | None = None,
    encoder: Any = None,
) -> ReplayReport:
    """Route the logged prompts with ``router`` (and ``cost_weight``, else each request's λ).

    Prompts come from the logged embeddings (when they were made by the router's encoder) or,
    with ``encoder``, from logged prompt text.

    Raises
    ------
    DataError
        No logged request can be replayed (no candidates, or no usable embedding or text).
    """
    router_encoder = getattr(router, "encoder_", None)
    known = set(router.model_names_)
    usable, X = [], []
    for r in records:
        if not r.candidates or r.model not in r.candidates:
            continue
        same_encoder = router_encoder is None or r.encoder in (None, router_encoder)
        if r.embedding is not None and same_encoder:
            X.append(np.asarray(r.embedding, dtype=np.float32))
        elif encoder is not None and r.prompt_text is not None:
            X.append(np.asarray(encoder.encode([r.prompt_text]), dtype=np.float32)[0])
        else:
            continue
        usable.append(r)
    if not usable:
        raise DataError(
            f"none of {len(records)} logged request(s) can be replayed: expected router "
            f"candidates and an embedding from encoder {router_encoder!r} (or prompt text, "
            "logged with log_prompts: text, and an encoder)"
        )
    frame = frame_from_records(usable)
    names = frame.model_names
    cols = [j for j, m in enumerate(names) if m in known]
    if not cols:
        raise DataError(f"the router knows none of the logged models ({', '.join(names)})")
    sub_names = [names[j] for j in cols]
    scores = router.predict_scores(np.stack(X))[:, router.model_index(sub_names)]
    # Only models that were candidates of a request may be chosen for it.
    scores = np.where(np.isfinite(frame.decision_costs[:, cols]), scores, np.nan)
    decision = frame.decision_costs[:, cols]
    lams = frame.cost_weights if cost_weight is None else np.full(frame.n, cost_weight)
    choice = np.empty(frame.n, dtype=np.int64)
    for lam in np.unique(lams):
        rows = lams == lam
        choice[rows] = select(scores[rows], decision[rows], cost_weight=float(lam))
    picked = np.array(cols)[choice]
    rows = np.arange(frame.n)
    actual = frame.actual_cost_usd
    logged_fb = np.isfinite(frame.feedback)
    agree = (picked == frame.chosen) & logged_fb
    logged = ReplaySide(
        share=_share(frame.chosen, names),
        cost_per_1k_usd=_mean_fig(actual * 1000.0, "usage × prices"),
        quality=[
            _mean_fig(frame.scores[rows, frame.chosen], "router prediction (logged)"),
            _mean_fig(np.where(logged_fb, frame.feedback, np.nan), "logged feedback"),
        ],
    )
    replayed = ReplaySide(
        share=_share(picked, names),
        cost_per_1k_usd=_mean_fig(frame.charged_costs[rows, picked] * 1000.0, "logged prices"),
        quality=[
            _mean_fig(scores[rows, choice], "router prediction"),
            _mean_fig(
                np.where(agree, frame.feedback, np.nan),
                "logged feedback (requests where the replay chose the model that answered)",
            ),
        ],
    )
    lam_label = "each request's logged λ" if cost_weight is None else f"{cost_weight:g}"
    return ReplayReport(frame.n, len(records) - frame.n, logged, replayed, lam_label)


def _share(choice: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    counts = np.bincount(choice, minlength=len(names)) / max(len(choice), 1)
    return {m: float(c) for m, c in zip(names, counts, strict=True) if c > 0}


def _mean_fig(values: np.ndarray, source: str) -> Figure:
    ok = np.isfinite(values)
    n = int(ok.sum())
    return Figure(float(values[ok].mean()) if n else None, source, n)
