"""Request models of the public API (pydantic), the ones that validate bodies and the OpenAPI
schema alike.

The admin API's bodies are the pool's own models (:class:`ModelSettings`,
:class:`DeploymentSettings`); :class:`ProfileAttach` is the onboarding body. Chat bodies are
validated just enough to route them (``extra="allow"``: the upstream validates the rest).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, field_validator

NonEmpty = Annotated[str, Field(min_length=1)]


class ChatMessage(BaseModel):
    """One message; only ``role`` matters for routing (``content``: text or parts)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class PolyrouteOptions(BaseModel):
    """The ``polyroute`` extension field of a chat body."""

    model_config = ConfigDict(extra="allow")

    #: Per-request quality/cost trade-off within the profile's ``cost_weight_range``.
    cost_weight: float | None = None

    @field_validator("cost_weight")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {value!r}")
        return value


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` and ``POST /v1/route``: an OpenAI chat body."""

    model_config = ConfigDict(extra="allow")

    #: A routing profile (e.g. ``auto``) or a concrete pool model.
    model: NonEmpty
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool = False
    polyroute: PolyrouteOptions | None = None
    metadata: dict[str, Any] | None = None
    user: str | None = None


class ProfileAttach(BaseModel):
    """``POST /admin/models/{model}/profile``: graded prompts (or their embeddings)."""

    model_config = ConfigDict(extra="forbid")

    prompts: list[str] | None = None
    embeddings: list[list[float]] | None = None
    #: Encoder of ``embeddings``.
    encoder: str | None = None
    #: The model's graded quality per prompt, in [0, 1].
    scores: list[Annotated[float, Field(ge=0, le=1)]]


class ErrorDetail(BaseModel):
    message: str
    type: str
    code: str


class ErrorBody(BaseModel):
    """Every error answer: ``{"error": {"message", "type", "code"}}``."""

    error: ErrorDetail


class Circuits(BaseModel):
    circuits: dict[str, Literal["closed", "half_open", "open"]]
