"""The live model pool: models, deployments and onboarded profiles, persisted in SQLite."""

from polyroute.pool._store import (
    POOL_TOPIC,
    ModelPool,
    OnboardedProfile,
    PoolSnapshot,
    parse_deployment,
    parse_model,
)

__all__ = [
    "POOL_TOPIC",
    "ModelPool",
    "OnboardedProfile",
    "PoolSnapshot",
    "parse_deployment",
    "parse_model",
]
