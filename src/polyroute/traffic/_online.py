"""Online UniRoute profiles: graded feedback updates the chosen model's profile for the
prompt's cluster, with exponentially decaying counts so that a profile follows drift.

UniRoute keeps a profile as per-cluster counts (errors, prompts), so feedback is more counts.
Deviations, for live traffic:

* **Decay.** Each new outcome of a model in a cell multiplies that cell's feedback counts by
  ``decay`` (the cell follows the model's recent answers there), and every feedback event of the gateway
  profile (any model) multiplies all counts by ``forget``: a model that stops being chosen, and
  so stops getting feedback, slowly drifts back to its validation profile, is tried again, and
  its fresh feedback shows whether it has recovered.
* **Minimum count.** A cell's feedback moves routing only once its decayed count reaches
  ``min_count``; until then the router predicts from its validation profile alone.
* **Prior weight.** Where feedback is active, the validation counts weigh at most
  ``prior_weight`` prompts, so a few dozen outcomes can overrule a large validation set.
* Feedback is credited to the prompt's most likely cell (``predict_clusters``), also under soft
  assignment.

Counts are kept by the log store (``load_feedback_counts`` / ``add_feedback_count``), which
replicas share; the event index makes decay lazy: a stored row is decayed by
``decay ** (now_event − its_event)`` when read.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from polyroute.exceptions import DataError
from polyroute.routers import BaseRouter

Array = np.ndarray


@dataclass(frozen=True)
class FeedbackCounts:
    """Decayed feedback of one model in one gateway profile: per-cell errors and counts."""

    errors: Array
    counts: Array
    event: int

    def at(self, event: int, forget: float) -> FeedbackCounts:
        """The counts decayed to ``event`` (``forget`` per profile event since the last update)."""
        f = forget ** max(0, event - self.event)
        return FeedbackCounts(self.errors * f, self.counts * f, event)


@dataclass(frozen=True)
class OnlineSettings:
    """Decay of a model's counts per own outcome and per profile event, minimum count, prior."""

    decay: float = 0.95
    forget: float = 0.995
    min_count: float = 5.0
    prior_weight: float = 5.0

    def __post_init__(self) -> None:
        for name in ("decay", "forget"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise DataError(f"{name} must be in (0, 1]; found {value}")
        if self.min_count < 0 or self.prior_weight < 0:
            raise DataError(
                f"min_count and prior_weight must be >= 0; found {self.min_count}, "
                f"{self.prior_weight}"
            )


def add_outcome(
    current: FeedbackCounts | None,
    *,
    n_cells: int,
    cell: int,
    score: float,
    event: int,
    settings: OnlineSettings,
) -> FeedbackCounts:
    """``current`` decayed to ``event`` plus one graded outcome (``score`` in [0, 1]) in ``cell``."""
    if not 0 <= cell < n_cells:
        raise DataError(f"cell {cell} outside the router's {n_cells} profile cells")
    if current is None or current.errors.shape != (n_cells,):
        current = FeedbackCounts(np.zeros(n_cells), np.zeros(n_cells), event)
    now = current.at(event, settings.forget)
    errors, counts = now.errors.copy(), now.counts.copy()
    # decay the cell's own history only: a model's other cells keep their (rarer) outcomes
    errors[cell] = errors[cell] * settings.decay + (1.0 - score)
    counts[cell] = counts[cell] * settings.decay + 1.0
    return FeedbackCounts(errors, counts, event)


def apply_feedback(
    router: BaseRouter,
    feedback: dict[str, FeedbackCounts],
    *,
    event: int,
    settings: OnlineSettings,
) -> BaseRouter:
    """A copy of a profile ``router`` whose counts include the (decayed) feedback.

    Models the router does not know are ignored; cells under ``min_count`` are left alone, so
    with no feedback the copy predicts exactly like ``router``.
    """
    if not hasattr(router, "counts_"):
        raise DataError(
            f"{type(router).__name__} keeps no profile counts; online feedback needs a "
            "UniRoute profile router (uniroute-kmeans, uniroute-learned-map)"
        )
    errors = np.array(router.errors_, dtype=np.float64)
    counts = np.array(router.counts_, dtype=np.float64)
    known = {m: i for i, m in enumerate(router.model_names_)}
    changed = False
    for model, fb in feedback.items():
        i = known.get(model)
        if i is None or fb.counts.shape != counts[i].shape:
            continue
        now = fb.at(event, settings.forget)
        active = now.counts >= max(settings.min_count, 1e-9)
        if not active.any():
            continue
        base_w = np.minimum(counts[i], settings.prior_weight)
        rate = np.divide(
            errors[i], counts[i], out=np.full_like(errors[i], 0.5), where=counts[i] > 0
        )
        errors[i] = np.where(active, rate * base_w + now.errors, errors[i])
        counts[i] = np.where(active, base_w + now.counts, counts[i])
        changed = True
    if not changed:
        return router
    out = copy.copy(router)
    out.errors_ = errors
    out.counts_ = counts
    return out
