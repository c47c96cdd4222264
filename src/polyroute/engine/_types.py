"""Value types of a routing decision: what the client asked, what was chosen and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen model, the ordered models to fall back to, and the reason.

    ``order`` starts with ``model``; delivery tries them in turn (at most the profile's
    ``max_models``). ``cluster`` is the router's cluster for the prompt where it has one.
    """

    model: str
    profile: str | None
    strategy: Strategy
    reason: str
    cost_weight: float | None
    order: tuple[str, ...]
    candidates: tuple[Candidate, ...] = ()
    cluster: int | None = None
    rule: str | None = None
    language: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (no secrets: the decision never holds any)."""
        out = asdict(self)
        out["order"] = list(self.order)
        out["candidates"] = [asdict(c) for c in self.candidates]
        return out
