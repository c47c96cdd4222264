"""The live model pool: models, deployments and onboarded profiles, persisted in SQLite."""

from polyroute.pool._store import (
    ModelPool,
    OnboardedProfile,
    PoolSnapshot,
    parse_deployment,
    parse_model,
)

__all__ = [
    "ModelPool",
    "OnboardedProfile",
    "PoolSnapshot",
    "parse_deployment",
    "parse_model",
]
