"""``traffic:`` in the gateway YAML: the decision log, online profiles and budgets."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class BudgetSettings(_Frozen):
    """A budget of one client key (by its configured name) per period."""

    key: str
    limit_usd: float = Field(gt=0)
    period_s: float = Field(86400.0, gt=0)
    #: ``hard``: requests beyond the budget get 429 ``budget_exceeded``; ``soft``: λ rises so the
    #: budget lasts the period.
    mode: Literal["hard", "soft"] = "hard"


class OnlineProfileSettings(_Frozen):
    """Feedback → UniRoute profile updates (see :mod:`polyroute.traffic._online`)."""

    enabled: bool = True
    decay: float = Field(0.95, gt=0, le=1)
    forget: float = Field(0.995, gt=0, le=1)
    min_count: float = Field(5.0, ge=0)
    prior_weight: float = Field(5.0, ge=0)


class TrafficSettings(_Frozen):
    """Decision log, feedback, online profiles, spend and budgets of the gateway."""

    #: Write one decision record per request (and accept ``POST /v1/feedback``).
    log: bool = False
    #: SQLite file of the decision log (relative to the config file's folder).
    log_path: str = "polyroute-decisions.db"
    #: ``hash`` (default): only a SHA-256 of the prompt; ``text``: the prompt text too.
    log_prompts: Literal["hash", "text"] = "hash"
    retention_days: float | None = Field(30.0, gt=0)
    max_records: int | None = Field(1_000_000, ge=1)
    #: Records waiting to be written at most; beyond it records are dropped and counted.
    queue_size: int = Field(10_000, ge=1)
    batch_size: int = Field(256, ge=1)
    flush_interval_s: float = Field(0.2, gt=0)
    online_profiles: OnlineProfileSettings = OnlineProfileSettings()
    budgets: tuple[BudgetSettings, ...] = ()
