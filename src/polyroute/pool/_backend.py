"""The ``PoolBackend`` interface: where the pool's rows live, and the SQL both backends share.

:class:`~polyroute.pool.ModelPool` owns validation, snapshots and change announcements; a backend
only stores rows and says whether it can still be trusted. Two backends implement it:
SQLite (embedded default, one file per host) and PostgreSQL (one database shared by every host,
with ``LISTEN``/``NOTIFY`` change notification). Both run the same statements through
:class:`PoolTransaction`; only the placeholder style and the column types differ.

A backend raises :class:`~polyroute.exceptions.StoreUnavailableError` when its store is gone,
corrupt or unreachable, and never acknowledges a write it cannot vouch for: a write returns only
after the transaction is committed (SQLite ``synchronous=FULL``, PostgreSQL's default
``synchronous_commit``) to the store that later reads will see.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Row = tuple[Any, ...]
Execute = Callable[[str, tuple[Any, ...]], Any]

#: Logical schema; ``{blob}`` is ``BLOB`` on SQLite and ``BYTEA`` on PostgreSQL.
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, spec TEXT NOT NULL, position INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deployments (
    model TEXT NOT NULL REFERENCES models(name) ON DELETE CASCADE,
    name TEXT NOT NULL, spec TEXT NOT NULL, position INTEGER NOT NULL,
    PRIMARY KEY (model, name));
CREATE TABLE IF NOT EXISTS profiles (
    model TEXT PRIMARY KEY REFERENCES models(name) ON DELETE CASCADE,
    encoder TEXT NOT NULL, x {blob} NOT NULL, y {blob} NOT NULL, n_prompts INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class PoolRows:
    """One consistent read of the whole pool (rows as stored, in position order)."""

    version: int
    models: list[Row]  # (name, spec json)
    deployments: list[Row]  # (model, spec json)
    profiles: list[Row]  # (model, encoder, x npy bytes, y npy bytes)


class PoolTransaction:
    """The pool's statements over one open transaction (``?`` placeholders, translated by the
    backend's ``execute``)."""

    def __init__(self, execute: Execute) -> None:
        self._x = execute

    def _one(self, sql: str, *params: Any) -> Row | None:
        row: Row | None = self._x(sql, params).fetchone()
        return row

    def _col(self, sql: str, *params: Any) -> list[str]:
        return [str(r[0]) for r in self._x(sql, params).fetchall()]

    def version(self) -> int:
        row = self._one("SELECT value FROM meta WHERE key = 'version'")
        return int(row[0]) if row else 0

    def bump_version(self) -> int:
        version = self.version() + 1
        self._x(
            "INSERT INTO meta VALUES ('version', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(version),),
        )
        return version

    def is_seeded(self) -> bool:
        return self._one("SELECT 1 FROM meta WHERE key = 'seeded'") is not None

    def mark_seeded(self) -> None:
        self._x("INSERT INTO meta VALUES ('seeded', '1') ON CONFLICT (key) DO NOTHING", ())

    def model_names(self) -> list[str]:
        return self._col("SELECT name FROM models ORDER BY position")

    def has_model(self, name: str) -> bool:
        return self._one("SELECT 1 FROM models WHERE name = ?", name) is not None

    def put_model(self, name: str, spec: str) -> None:
        """Insert or replace a model row, keeping its position when it exists."""
        row = self._one("SELECT position FROM models WHERE name = ?", name)
        if row is not None:
            self._x("UPDATE models SET spec = ? WHERE name = ?", (spec, name))
            return
        pos = self._next_position("models")
        self._x("INSERT INTO models VALUES (?, ?, ?)", (name, spec, pos))

    def delete_model(self, name: str) -> bool:
        return int(self._x("DELETE FROM models WHERE name = ?", (name,)).rowcount) > 0

    def deployment_names(self, model: str) -> list[str]:
        return self._col("SELECT name FROM deployments WHERE model = ? ORDER BY position", model)

    def put_deployment(self, model: str, name: str, spec: str) -> None:
        row = self._one(
            "SELECT position FROM deployments WHERE model = ? AND name = ?", model, name
        )
        if row is not None:
            self._x(
                "UPDATE deployments SET spec = ? WHERE model = ? AND name = ?", (spec, model, name)
            )
            return
        pos = self._next_position("deployments")
        self._x("INSERT INTO deployments VALUES (?, ?, ?, ?)", (model, name, spec, pos))

    def delete_deployments(self, model: str) -> None:
        self._x("DELETE FROM deployments WHERE model = ?", (model,))

    def delete_deployment(self, model: str, name: str) -> bool:
        cur = self._x("DELETE FROM deployments WHERE model = ? AND name = ?", (model, name))
        return int(cur.rowcount) > 0

    def put_profile(self, model: str, encoder: str, x: bytes, y: bytes, n_prompts: int) -> None:
        self._x("DELETE FROM profiles WHERE model = ?", (model,))
        self._x("INSERT INTO profiles VALUES (?, ?, ?, ?, ?)", (model, encoder, x, y, n_prompts))

    def delete_profile(self, model: str) -> bool:
        return int(self._x("DELETE FROM profiles WHERE model = ?", (model,)).rowcount) > 0

    def profile_models(self) -> list[str]:
        return self._col("SELECT model FROM profiles ORDER BY model")

    def read_all(self) -> PoolRows:
        return PoolRows(
            self.version(),
            list(self._x("SELECT name, spec FROM models ORDER BY position", ()).fetchall()),
            list(self._x("SELECT model, spec FROM deployments ORDER BY position", ()).fetchall()),
            [
                (m, enc, bytes(x), bytes(y))
                for m, enc, x, y in self._x(
                    "SELECT model, encoder, x, y FROM profiles", ()
                ).fetchall()
            ],
        )

    def _next_position(self, table: str) -> int:
        row = self._one(f"SELECT COALESCE(MAX(position), -1) + 1 FROM {table}")
        return int(row[0]) if row else 0


class PoolBackend(Protocol):
    """Storage of the pool rows; see the module docstring."""

    #: Where the rows live, for messages (a file path, or a database URL without its password).
    location: str

    def write(self) -> AbstractContextManager[PoolTransaction]:
        """A write transaction (writers are serialised); commits on exit, rolls back on error.

        On commit the version is bumped; read it back with :meth:`PoolTransaction.version`
        inside the block or with :meth:`version` after it.
        """
        ...

    def read(self) -> PoolRows:
        """All rows, read in one transaction."""
        ...

    def is_seeded(self) -> bool: ...

    def version(self) -> int:
        """The latest committed pool version."""
        ...

    def check(self) -> None:
        """Raise :class:`~polyroute.exceptions.StoreUnavailableError` when the store cannot be
        trusted (deleted, replaced, corrupt, unreachable)."""
        ...

    def watch(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(version)`` when another process commits a change (no-op when the
        backend cannot tell; ``ModelPool`` users then poll :meth:`version`)."""
        ...

    def close(self) -> None: ...
