"""``ModelPool``: the live model pool, persisted by a backend (SQLite file or PostgreSQL).

The pool is seeded from the config file on first start; afterwards the database is the source of
truth, changed through the admin API. Every change bumps the pool version in the database and is
announced through :meth:`StateStore.publish` on the ``"pool"`` topic, so engines rebuild their
snapshot without a restart. Other processes sharing a SQLite file see the version change on their
next poll; hosts sharing a PostgreSQL database are told at once (``LISTEN``/``NOTIFY``), and each
announces the change to its own engine. Onboarded profiles (validation embeddings and grades of
a model) are stored with the model so that a restart re-attaches them to the learned routers.
"""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from polyroute.exceptions import DataError, StoreUnavailableError, UnknownComponentError
from polyroute.gateway_config import DeploymentSettings, ModelSettings
from polyroute.pool._backend import PoolBackend, PoolTransaction
from polyroute.pool._sqlite import SqlitePoolBackend
from polyroute.state import StateStore

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

POOL_TOPIC = "pool"


@dataclass(frozen=True)
class OnboardedProfile:
    """Validation data attached to a model: embeddings ``X`` (n, d) and grades ``y`` (n,)."""

    model: str
    encoder: str
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)

    @property
    def n_prompts(self) -> int:
        return int(self.X.shape[0])


@dataclass(frozen=True)
class PoolSnapshot:
    """An immutable view of the pool at one version."""

    version: int
    models: dict[str, ModelSettings]
    profiles: dict[str, OnboardedProfile]

    def model_names(self) -> list[str]:
        return list(self.models)


class ModelPool:
    """Models, deployments and onboarded profiles, stored by a :class:`PoolBackend`.

    Parameters
    ----------
    location : str or Path
        A SQLite file (created with its parent folder), ``":memory:"`` for an ephemeral pool, or
        a ``postgresql://`` URL for a pool shared by several hosts (``[postgres]`` extra).
    store : StateStore, optional
        Where pool changes are published (topic ``"pool"``).

    Notes
    -----
    When the backend cannot be trusted (file deleted or corrupt, database unreachable), writes
    raise :class:`~polyroute.exceptions.StoreUnavailableError` and are not acknowledged, while
    reads keep answering from the last good snapshot so that routing goes on; :meth:`health`
    says what is wrong (the gateway's readiness and metrics report it).

    Examples
    --------
    >>> pool = ModelPool(":memory:")
    >>> pool.seed([ModelSettings(name="m1")])
    True
    >>> pool.snapshot().model_names()
    ['m1']
    """

    #: State-store topic on which every pool change is published (payload ``{"version": n}``).
    TOPIC = POOL_TOPIC

    def __init__(self, location: str | Path, *, store: StateStore | None = None) -> None:
        self.backend = open_backend(location)
        self.store = store
        self._last: PoolSnapshot | None = None
        self._problem: str | None = None
        self._announced = 0
        self._lock = threading.Lock()
        self._unsubscribe = (
            store.subscribe(POOL_TOPIC, lambda _, payload: self._note(payload.get("version")))
            if store is not None
            else None
        )
        self.backend.watch(self._remote_change)

    @property
    def path(self) -> str:
        """Where the pool lives (file path, or database URL without its password)."""
        return self.backend.location

    def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.backend.close()

    # ------------------------------------------------------------------ integrity
    def health(self) -> tuple[bool, str]:
        """``(True, "")`` when the store can be trusted, else ``(False, why)``."""
        try:
            self.backend.check()
        except StoreUnavailableError as exc:
            self._problem = str(exc)
            return False, str(exc)
        self._problem = None
        return True, ""

    @property
    def last_problem(self) -> str | None:
        """What was wrong with the store at the last check, read or write (``None``: nothing)."""
        return self._problem

    def _guarded(self, exc: StoreUnavailableError) -> None:
        if self._problem != str(exc):
            logger.error("pool store unavailable: %s", exc)
        self._problem = str(exc)

    # ------------------------------------------------------------------ change announcements
    def _note(self, version: Any) -> None:
        """Another replica announced ``version`` (the topic's own counter is not the pool's)."""
        if isinstance(version, int):
            with self._lock:
                self._announced = max(self._announced, version)

    def _announce(self, version: int) -> None:
        with self._lock:
            if version <= self._announced:
                return
            self._announced = version
        if self.store is not None:
            self.store.publish(POOL_TOPIC, {"version": version})

    def _remote_change(self, version: int) -> None:
        """A change committed by another host (PostgreSQL NOTIFY): tell this host's engine."""
        self._announce(version)

    @contextmanager
    def _write(self) -> Iterator[PoolTransaction]:
        with self.backend.write() as tx:
            yield tx
        self._problem = None
        self._announce(self.backend.version())

    def version(self) -> int:
        """The pool version in the store (bumped by every change); the last good one while
        the store is unavailable."""
        try:
            return self.backend.version()
        except StoreUnavailableError as exc:
            self._guarded(exc)
            return self._last.version if self._last is not None else 0

    # ------------------------------------------------------------------ seeding
    def is_seeded(self) -> bool:
        return self.backend.is_seeded()

    def seed(self, models: Sequence[ModelSettings]) -> bool:
        """Fill an empty pool from config; returns ``False`` when it was already seeded."""
        if self.backend.is_seeded():
            return False
        try:
            with self._write() as tx:
                if tx.is_seeded():  # checked again under the write lock: two hosts seed once
                    raise _AlreadySeeded
                for model in models:
                    _put_model(tx, model)
                tx.mark_seeded()
        except _AlreadySeeded:
            return False
        return True

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> PoolSnapshot:
        """Models (with their deployments) and onboarded profiles at the current version.

        While the store is unavailable this is the last good snapshot (raises
        :class:`~polyroute.exceptions.StoreUnavailableError` when there is none).
        """
        try:
            rows = self.backend.read()
        except StoreUnavailableError as exc:
            self._guarded(exc)
            if self._last is None:
                raise
            return self._last
        by_model: dict[str, list[dict[str, Any]]] = {}
        for model, spec in rows.deployments:
            by_model.setdefault(model, []).append(json.loads(spec))
        models = {}
        for name, spec in rows.models:
            data = json.loads(spec)
            data["deployments"] = by_model.get(name, [])
            try:
                models[name] = ModelSettings.model_validate(data)
            except ValidationError as exc:
                # A row written before a check existed: leave the model out rather than fail
                # every request; the operator sees why and can rewrite it.
                logger.error("pool model %r left out, it is no longer valid: %s", name, exc)
        profiles = {
            m: OnboardedProfile(m, enc, _load_array(x), _load_array(y))
            for m, enc, x, y in rows.profiles
        }
        self._last = PoolSnapshot(rows.version, models, profiles)
        return self._last

    def get_model(self, name: str) -> ModelSettings:
        snap = self.snapshot()
        if name not in snap.models:
            raise UnknownComponentError("model", name, list(snap.models))
        return snap.models[name]

    # ------------------------------------------------------------------ admin writes
    def upsert_model(self, model: ModelSettings) -> bool:
        """Add or replace a model (and its deployments); returns ``True`` when it was new."""
        with self._write() as tx:
            existed = tx.has_model(model.name)
            if existed:
                tx.delete_deployments(model.name)
            _put_model(tx, model)
        return not existed

    def remove_model(self, name: str) -> None:
        """Remove a model, its deployments and its onboarded profile."""
        with self._write() as tx:
            if not tx.delete_model(name):
                raise UnknownComponentError("model", name, tx.model_names())

    def upsert_deployment(self, model: str, deployment: DeploymentSettings) -> bool:
        """Add or replace one deployment of ``model``; returns ``True`` when it was new."""
        with self._write() as tx:
            _require_model(tx, model)
            existed = deployment.name in tx.deployment_names(model)
            _put_deployment(tx, model, deployment)
        return not existed

    def remove_deployment(self, model: str, name: str) -> None:
        with self._write() as tx:
            _require_model(tx, model)
            if not tx.delete_deployment(model, name):
                raise UnknownComponentError(
                    f"deployment of model {model!r}", name, tx.deployment_names(model)
                )

    def attach_profile(self, model: str, encoder: str, X: np.ndarray, y: np.ndarray) -> None:
        """Store validation embeddings ``X`` (n, d) and grades ``y`` (n,) in [0, 1] of ``model``."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise DataError(
                f"profile of {model!r}: expected X (n, d) and y (n,) with n >= 1; "
                f"found X {X.shape}, y {y.shape}"
            )
        if not np.isfinite(X).all():
            raise DataError(f"profile of {model!r}: expected finite embeddings, found NaN or inf")
        finite = y[np.isfinite(y)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise DataError(
                f"profile of {model!r}: expected grades in [0, 1], found "
                f"[{finite.min():g}, {finite.max():g}]"
            )
        with self._write() as tx:
            _require_model(tx, model)
            tx.put_profile(model, encoder, _dump_array(X), _dump_array(y), int(X.shape[0]))

    def detach_profile(self, model: str) -> None:
        with self._write() as tx:
            if not tx.delete_profile(model):
                raise UnknownComponentError("onboarded profile", model, tx.profile_models())


class _AlreadySeeded(Exception):
    """Rolls back a seed that another process finished first."""


def open_backend(location: str | Path) -> PoolBackend:
    """The backend for a SQLite path, ``":memory:"`` or a ``postgresql://`` URL."""
    text = str(location)
    if text.startswith(("postgresql://", "postgres://")):
        from polyroute.pool._postgres import PostgresPoolBackend

        return PostgresPoolBackend(text)
    return SqlitePoolBackend(text)


def _require_model(tx: PoolTransaction, model: str) -> None:
    if not tx.has_model(model):
        raise UnknownComponentError("model", model, tx.model_names())


def _put_model(tx: PoolTransaction, model: ModelSettings) -> None:
    spec = model.model_dump(mode="json", exclude={"deployments"})
    tx.put_model(model.name, json.dumps(spec, allow_nan=False))
    for dep in model.deployments:
        _put_deployment(tx, model.name, dep)


def _put_deployment(tx: PoolTransaction, model: str, dep: DeploymentSettings) -> None:
    tx.put_deployment(model, dep.name, json.dumps(dep.model_dump(mode="json"), allow_nan=False))


def parse_model(data: Any) -> ModelSettings:
    """Validate an admin payload as a model; raises :class:`DataError` naming the field."""
    return _parse(ModelSettings, data, "model")


def parse_deployment(data: Any) -> DeploymentSettings:
    """Validate an admin payload as a deployment."""
    return _parse(DeploymentSettings, data, "deployment")


class ProfilePayload(BaseModel):
    """Admin payload of an onboarded profile: ``prompts`` (embedded by the gateway) or
    ``embeddings`` with their ``encoder``, and one grade in [0, 1] per prompt in ``scores``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    prompts: list[StrictStr] | None = Field(None, min_length=1)
    embeddings: list[list[float]] | None = Field(None, min_length=1)
    encoder: str | None = None
    scores: list[float] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> ProfilePayload:
        if (self.prompts is None) == (self.embeddings is None):
            raise ValueError("expected exactly one of 'prompts' or 'embeddings'")
        if self.embeddings is not None:
            if not self.encoder:
                raise ValueError("expected 'encoder' (the encoder of the embeddings)")
            widths = sorted({len(row) for row in self.embeddings})
            if len(widths) != 1 or widths[0] == 0:
                raise ValueError(f"expected embeddings of one width >= 1, found widths {widths}")
        n = len(self.prompts if self.prompts is not None else self.embeddings or [])
        if len(self.scores) != n:
            raise ValueError(
                f"'scores': expected {n} numbers (one per prompt), found {len(self.scores)}"
            )
        return self


def parse_profile(data: Any) -> ProfilePayload:
    """Validate an admin payload as an onboarded profile."""
    return _parse(ProfilePayload, data, "profile")


def _parse(cls: type[M], data: Any, what: str) -> M:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        parts = [
            ": ".join(
                p
                for p in (
                    ".".join(str(x) for x in e["loc"]),
                    e["msg"].removeprefix("Value error, "),
                )
                if p
            )
            for e in errs
        ]
        raise DataError(f"invalid {what}: " + "; ".join(parts)) from None


def _dump_array(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _load_array(blob: bytes) -> np.ndarray:
    array: np.ndarray = np.load(io.BytesIO(blob), allow_pickle=False)
    return array
