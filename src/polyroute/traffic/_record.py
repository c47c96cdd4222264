"""One decision-log record per gateway request, and the USD cost of its usage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

PromptLogging = Literal["hash", "text", "none"]


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """What the gateway decided for one request and what it cost.

    ``candidates``, ``predicted_quality`` and ``candidate_cost_usd`` are parallel tuples (the
    models the router weighed, its predicted quality for each — ``None`` where it had none — and
    the per-query USD cost it decided with). ``cost_usd`` is what the answer cost: usage tokens ×
    the model's prices. ``key_id`` names the client key (its configured name), never the key.
    ``prompt_hash`` is always set; ``prompt_text`` only with ``log_prompts: text``.
    """

    request_id: str
    time_s: float
    model: str
    key_id: str | None = None
    profile: str | None = None
    cost_weight: float | None = None
    deployment: str | None = None
    candidates: tuple[str, ...] = ()
    predicted_quality: tuple[float | None, ...] = ()
    candidate_cost_usd: tuple[float, ...] = ()
    support: float | None = None
    cluster: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    status: int = 200
    fallback: bool = False
    encoder: str | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)
    prompt_hash: str = ""
    prompt_text: str | None = None
    feedback: float | None = None


def prompt_digest(text: str) -> str:
    """Stable SHA-256 hex digest of a prompt (what the log keeps by default)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def usage_cost_usd(
    prompt_tokens: int | None,
    completion_tokens: int | None,
    *,
    input_cost_per_mtok: float,
    output_cost_per_mtok: float,
) -> float | None:
    """USD of one answer: tokens × price per million tokens (``None`` without usage)."""
    if prompt_tokens is None and completion_tokens is None:
        return None
    return (
        (prompt_tokens or 0) * input_cost_per_mtok + (completion_tokens or 0) * output_cost_per_mtok
    ) / 1e6
