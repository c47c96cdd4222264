"""The live model pool: models, deployments and onboarded profiles, in SQLite or PostgreSQL."""

from polyroute.pool._backend import PoolBackend, PoolRows, PoolTransaction
from polyroute.pool._sqlite import SqlitePoolBackend
from polyroute.pool._store import (
    ModelPool,
    OnboardedProfile,
    PoolSnapshot,
    ProfilePayload,
    open_backend,
    parse_deployment,
    parse_model,
    parse_profile,
)

__all__ = [
    "ModelPool",
    "OnboardedProfile",
    "PoolBackend",
    "PoolRows",
    "PoolSnapshot",
    "PoolTransaction",
    "ProfilePayload",
    "SqlitePoolBackend",
    "open_backend",
    "parse_deployment",
    "parse_model",
    "parse_profile",
]
