"""Value types of a routing decision: what the client asked, what was chosen and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from polyroute.engine._view import PoolView

Strategy = Literal["learned", "rule", "round-robin", "direct"]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    """The routing-relevant part of a request.

    Parameters
    ----------
    model : str
        A routing profile name (``"auto"``, also ``"polyroute/auto"``) or a concrete pool model.
    text : str
        Text the router reads (the conversation's last user message).
    cost_weight : float or None
        λ asked for by the client; ``None`` = the profile default.
    metadata : mapping of str to str
        Tags for contextual rules (``x-polyroute-tag`` header, body ``metadata``, ``user``).
    affinity_key : str or None
        Session/user key for consistent-hash balancing.
    """

    model: str
    text: str = ""
    cost_weight: float | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    affinity_key: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One model considered by the decision."""

    model: str
    predicted_quality: float | None
    cost_usd: float
    relative_cost: float
    utility: float | None
    has_deployments: bool


@dataclass(frozen=True, slots=True, eq=False)
class CandidateTable:
    """The learned decision's numbers for every candidate, one array per column.

    Kept as arrays so that a decision over hundreds of models costs a few vector operations;
    :attr:`RouteDecision.candidates` turns them into :class:`Candidate` rows when asked.
    """

    models: tuple[str, ...]
    quality: np.ndarray
    cost_usd: np.ndarray
    relative_cost: np.ndarray
    utility: np.ndarray
    has_deployments: np.ndarray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CandidateTable):
            return NotImplemented
        return self.models == other.models and all(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
            for a, b in zip(self._arrays(), other._arrays(), strict=True)
        )

    __hash__ = None  # type: ignore[assignment]  # arrays are mutable

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return (self.quality, self.cost_usd, self.relative_cost, self.utility, self.has_deployments)

    def rows(self) -> tuple[Candidate, ...]:
        return tuple(Candidate(*values) for values in self._columns())

    def to_list(self) -> list[dict[str, Any]]:
        keys = Candidate.__slots__
        return [dict(zip(keys, values, strict=True)) for values in self._columns()]

    def _columns(self) -> zip[tuple[Any, ...]]:
        return zip(
            self.models,
            np.round(self.quality, 4).tolist(),
            self.cost_usd.tolist(),
            np.round(self.relative_cost, 4).tolist(),
            np.round(self.utility, 4).tolist(),
            self.has_deployments.tolist(),
            strict=True,
        )


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen model, the ordered models to fall back to, and the reason.

    ``order`` starts with ``model``; delivery tries them in turn (at most the profile's
    ``max_models``). ``cluster`` is the router's cluster for the prompt where it has one.
    ``view`` is the pool view the decision was made on: :meth:`RoutingEngine.complete` and
    :meth:`RoutingEngine.stream` deliver on that same view, even if the pool changed meanwhile.
    """

    model: str
    profile: str | None
    strategy: Strategy
    reason: str
    cost_weight: float | None
    order: tuple[str, ...]
    table: CandidateTable | None = field(default=None, repr=False)
    cluster: int | None = None
    rule: str | None = None
    language: str | None = None
    #: How well the router's training data covers the prompt, in [0, 1] (learned decisions of
    #: routers with the safe rule; see ``BaseRouter.predict_support``), else None.
    support: float | None = None
    #: Learned difficulty of the prompt (predicted share of models failing it), when known.
    difficulty: float | None = None
    view: PoolView | None = field(default=None, repr=False, compare=False)
    #: The prompt's embedding (learned decisions; the decision log keeps it).
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def candidates(self) -> tuple[Candidate, ...]:
        """The models the learned router scored (empty for other strategies)."""
        return self.table.rows() if self.table is not None else ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (no secrets: the decision never holds any)."""
        return {
            "model": self.model,
            "profile": self.profile,
            "strategy": self.strategy,
            "reason": self.reason,
            "cost_weight": self.cost_weight,
            "order": list(self.order),
            "candidates": self.table.to_list() if self.table is not None else [],
            "cluster": self.cluster,
            "rule": self.rule,
            "language": self.language,
            "support": self.support,
            "difficulty": None if self.difficulty is None else round(self.difficulty, 4),
        }
