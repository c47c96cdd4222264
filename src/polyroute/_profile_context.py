"""Profile settings of contextual and model-aware routing: topics and priority presets.

Kept out of ``gateway_config`` (which re-exports them) so that schema stays one screenful.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PRIORITIES", "TopicSpec", "apply_priority", "check_topic_rules"]

#: Priorities of model-aware routing -> the (cost_weight λ, latency_weight μ) they set.
PRIORITIES: dict[str, tuple[float, float]] = {
    "accuracy": (0.0, 0.0),  # best predicted quality, whatever it costs or takes
    "balanced": (0.1, 0.1),  # give up to 0.1 of quality for the cheapest, 0.1 for the fastest
    "speed": (0.05, 0.5),  # up to 0.5 of quality for the fastest model
    "cost": (0.5, 0.0),  # up to 0.5 of quality for the cheapest model
}


class TopicSpec(BaseModel):
    """A topic described in plain words (and optionally a few example prompts)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")
    description: str = Field(min_length=1)
    examples: tuple[str, ...] = ()
    #: Least cosine similarity (after centring on the profile's topics) for a prompt to match.
    threshold: float = Field(0.2, ge=-1.0, le=1.0)


def apply_priority(data: Any) -> Any:
    """A profile's raw settings with its ``priority`` preset's λ and μ filled in (explicit
    ``cost_weight`` / ``latency_weight`` win)."""
    if isinstance(data, dict) and data.get("priority") in PRIORITIES:
        lam, mu = PRIORITIES[data["priority"]]
        data = {"cost_weight": lam, "latency_weight": mu, **data}
    return data


def check_topic_rules(topics: Sequence[TopicSpec], rules: Sequence[Any]) -> None:
    """Every rule's ``when.topic`` names one of ``topics`` (``ValueError`` otherwise)."""
    names = [t.name for t in topics]
    for rule in rules:
        if rule.when.topic is not None and rule.when.topic not in names:
            raise ValueError(
                f"rule {rule.name!r}: expected a topic of this profile {names}, "
                f"found {rule.when.topic!r}"
            )
