"""``ModelPool``: the live model pool, persisted in SQLite (stdlib ``sqlite3``, WAL mode).

The pool is seeded from the config file on first start; afterwards the database is the source of
truth, changed through the admin API. Every change bumps the pool version in the database and is
announced through :meth:`StateStore.publish` on the ``"pool"`` topic, so engines rebuild their
snapshot without a restart (other processes sharing the file see the version change on their next
poll). Onboarded profiles (validation embeddings and grades of a model) are stored with the model
so that a restart re-attaches them to the learned routers.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from polyroute.exceptions import ConfigError, DataError, UnknownComponentError
from polyroute.gateway_config import DeploymentSettings, ModelSettings
from polyroute.state import StateStore

POOL_TOPIC = "pool"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
    model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    name TEXT NOT NULL, spec TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (model, name));
CREATE TABLE IF NOT EXISTS profiles (
    model TEXT PRIMARY KEY REFERENCES models(name) ON DELETE CASCADE,
    encoder TEXT NOT NULL, x BLOB NOT NULL, y BLOB NOT NULL, n_prompts INTEGER NOT NULL);
"""


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
    """Models, deployments and onboarded profiles in a SQLite file.

    Parameters
    ----------
    path : str or Path
        SQLite file (created with its parent folder); ``":memory:"`` for an ephemeral pool.
    store : StateStore, optional
        Where pool changes are published (topic ``"pool"``).

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

    def __init__(self, path: str | Path, *, store: StateStore | None = None) -> None:
        self.path = str(path)
        self.store = store
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the pool database {self.path}: {exc}") from None
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                version = self._version(self._db) + 1
                self._db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(version),)
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        if self.store is not None:
            self.store.publish(POOL_TOPIC, {"version": version})

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
        return int(row[0]) if row else 0

    def version(self) -> int:
        """The pool version in the database (bumped by every change)."""
        with self._lock:
            return self._version(self._db)

    # ------------------------------------------------------------------ seeding
    def is_seeded(self) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM meta WHERE key = 'seeded'").fetchone() is not None
            )

    def seed(self, models: Sequence[ModelSettings]) -> bool:
        """Fill an empty pool from config; returns ``False`` when it was already seeded."""
        if self.is_seeded():
            return False
        with self._write() as db:
            for model in models:
                self._put_model(db, model)
            db.execute("INSERT OR REPLACE INTO meta VALUES ('seeded', '1')")
        return True

    # ------------------------------------------------------------------ reading
    def snapshot(self) -> PoolSnapshot:
        """Models (with their deployments) and onboarded profiles at the current version."""
        with self._lock:
            version = self._version(self._db)
            rows = self._db.execute("SELECT name, spec FROM models ORDER BY position").fetchall()
            deps = self._db.execute(
                "SELECT model, spec FROM deployments ORDER BY position"
            ).fetchall()
            profs = self._db.execute("SELECT model, encoder, x, y FROM profiles").fetchall()
        by_model: dict[str, list[dict[str, Any]]] = {}
        for model, spec in deps:
            by_model.setdefault(model, []).append(json.loads(spec))
        models = {}
        for name, spec in rows:
            data = json.loads(spec)
            data["deployments"] = by_model.get(name, [])
            models[name] = ModelSettings.model_validate(data)
        profiles = {
            m: OnboardedProfile(m, enc, _load_array(x), _load_array(y)) for m, enc, x, y in profs
        }
        return PoolSnapshot(version, models, profiles)

    def get_model(self, name: str) -> ModelSettings:
        snap = self.snapshot()
        if name not in snap.models:
            raise UnknownComponentError("model", name, list(snap.models))
        return snap.models[name]

    # ------------------------------------------------------------------ admin writes
    def upsert_model(self, model: ModelSettings) -> bool:
        """Add or replace a model (and its deployments); returns ``True`` when it was new."""
        with self._write() as db:
            existed = (
                db.execute("SELECT 1 FROM models WHERE name = ?", (model.name,)).fetchone()
                is not None
            )
            if existed:
                db.execute("DELETE FROM deployments WHERE model = ?", (model.name,))
            self._put_model(db, model)
        return not existed

    def remove_model(self, name: str) -> None:
        """Remove a model, its deployments and its onboarded profile."""
        with self._write() as db:
            if db.execute("DELETE FROM models WHERE name = ?", (name,)).rowcount == 0:
                raise UnknownComponentError("model", name, self._names(db))

    def upsert_deployment(self, model: str, deployment: DeploymentSettings) -> bool:
        """Add or replace one deployment of ``model``; returns ``True`` when it was new."""
        with self._write() as db:
            self._require_model(db, model)
            existed = (
                db.execute(
                    "SELECT 1 FROM deployments WHERE model = ? AND name = ?",
                    (model, deployment.name),
                ).fetchone()
                is not None
            )
            self._put_deployment(db, model, deployment)
        return not existed

    def remove_deployment(self, model: str, name: str) -> None:
        with self._write() as db:
            self._require_model(db, model)
            cur = db.execute("DELETE FROM deployments WHERE model = ? AND name = ?", (model, name))
            if cur.rowcount == 0:
                names = [
                    r[0]
                    for r in db.execute("SELECT name FROM deployments WHERE model = ?", (model,))
                ]
                raise UnknownComponentError(f"deployment of model {model!r}", name, names)

    def attach_profile(self, model: str, encoder: str, X: np.ndarray, y: np.ndarray) -> None:
        """Store validation embeddings ``X`` (n, d) and grades ``y`` (n,) in [0, 1] of ``model``."""
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
            raise DataError(
                f"profile of {model!r}: expected X (n, d) and y (n,) with n >= 1; "
                f"found X {X.shape}, y {y.shape}"
            )
        finite = y[np.isfinite(y)]
        if finite.size and (finite.min() < 0 or finite.max() > 1):
            raise DataError(
                f"profile of {model!r}: expected grades in [0, 1], found "
                f"[{finite.min():g}, {finite.max():g}]"
            )
        with self._write() as db:
            self._require_model(db, model)
            db.execute(
                "INSERT OR REPLACE INTO profiles VALUES (?, ?, ?, ?, ?)",
                (model, encoder, _dump_array(X), _dump_array(y), int(X.shape[0])),
            )

    def detach_profile(self, model: str) -> None:
        with self._write() as db:
            if db.execute("DELETE FROM profiles WHERE model = ?", (model,)).rowcount == 0:
                raise UnknownComponentError(
                    "onboarded profile",
                    model,
                    [r[0] for r in db.execute("SELECT model FROM profiles")],
                )

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _names(db: sqlite3.Connection) -> list[str]:
        return [r[0] for r in db.execute("SELECT name FROM models ORDER BY position")]

    def _require_model(self, db: sqlite3.Connection, model: str) -> None:
        if db.execute("SELECT 1 FROM models WHERE name = ?", (model,)).fetchone() is None:
            raise UnknownComponentError("model", model, self._names(db))

    def _put_model(self, db: sqlite3.Connection, model: ModelSettings) -> None:
        spec = model.model_dump(mode="json", exclude={"deployments"})
        row = db.execute("SELECT position FROM models WHERE name = ?", (model.name,)).fetchone()
        pos = row[0] if row else _next_position(db, "models")
        db.execute(
            "INSERT OR REPLACE INTO models VALUES (?, ?, ?)", (model.name, json.dumps(spec), pos)
        )
        for dep in model.deployments:
            self._put_deployment(db, model.name, dep)

    @staticmethod
    def _put_deployment(db: sqlite3.Connection, model: str, dep: DeploymentSettings) -> None:
        row = db.execute(
            "SELECT position FROM deployments WHERE model = ? AND name = ?", (model, dep.name)
        ).fetchone()
        pos = row[0] if row else _next_position(db, "deployments")
        db.execute(
            "INSERT OR REPLACE INTO deployments VALUES (?, ?, ?, ?)",
            (model, dep.name, json.dumps(dep.model_dump(mode="json")), pos),
        )


def parse_model(data: Any) -> ModelSettings:
    """Validate an admin payload as a model; raises :class:`DataError` naming the field."""
    return _parse(ModelSettings, data, "model")


def parse_deployment(data: Any) -> DeploymentSettings:
    """Validate an admin payload as a deployment."""
    return _parse(DeploymentSettings, data, "deployment")


def _parse(cls: Any, data: Any, what: str) -> Any:
    try:
        return cls.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors(include_url=False)
        parts = [
            f"{'.'.join(str(x) for x in e['loc']) or what}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in errs
        ]
        raise DataError(f"invalid {what}: " + "; ".join(parts)) from None


def _next_position(db: sqlite3.Connection, table: str) -> int:
    row = db.execute(f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table}").fetchone()
    return int(row[0])


def _dump_array(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _load_array(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)
