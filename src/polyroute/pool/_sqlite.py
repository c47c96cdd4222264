"""The embedded pool backend: one SQLite file (stdlib ``sqlite3``, WAL, ``synchronous=FULL``).

The open connection keeps working on a file that was deleted or replaced underneath it, so every
write checks, before it starts and after it commits, that the path still names the file this
backend opened (same device and inode) and that the file still starts with SQLite's header. A
write that fails the check raises :class:`~polyroute.exceptions.StoreUnavailableError` instead of
being acknowledged: after a deletion the commit went to an unlinked inode and would be lost.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from polyroute.exceptions import ConfigError, StoreUnavailableError
from polyroute.pool._backend import SCHEMA, PoolRows, PoolTransaction

_MAGIC = b"SQLite format 3\x00"


class SqlitePoolBackend:
    """Pool rows in a SQLite file (``":memory:"`` for an ephemeral pool)."""

    def __init__(self, path: str | Path) -> None:
        self.location = str(path)
        self._is_file = self.location != ":memory:"
        if self._is_file:
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None)
            if self._is_file:
                self._db.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (WAL fsynced) before it returns, so an acknowledged
            # write survives kill -9 and power loss.
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(SCHEMA.format(blob="BLOB"))
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the pool database {self.location}: {exc}") from None
        self._identity = _identity(self.location) if self._is_file else None
        self._lock = threading.RLock()

    def close(self) -> None:
        self._db.close()

    def _execute(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    @contextmanager
    def write(self) -> Iterator[PoolTransaction]:
        with self._lock, self._translated("write to"):
            self.check()
            self._db.execute("BEGIN IMMEDIATE")
            tx = PoolTransaction(self._execute)
            try:
                yield tx
                tx.bump_version()
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except sqlite3.DatabaseError:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            try:
                self.check()
            except StoreUnavailableError as exc:
                raise StoreUnavailableError(
                    f"{exc}; the change just made was NOT stored durably, make it again "
                    "once the pool store is restored"
                ) from None

    def read(self) -> PoolRows:
        with self._lock, self._translated("read"):
            self._db.execute("BEGIN")
            try:
                return PoolTransaction(self._execute).read_all()
            finally:
                self._db.execute("COMMIT")

    def is_seeded(self) -> bool:
        with self._lock, self._translated("read"):
            return PoolTransaction(self._execute).is_seeded()

    def version(self) -> int:
        with self._lock, self._translated("read"):
            return PoolTransaction(self._execute).version()

    def check(self) -> None:
        if not self._is_file:
            return
        found = _identity(self.location)
        if found is None:
            raise StoreUnavailableError(
                f"pool file {self.location} was deleted while the gateway was running: "
                "expected the file this gateway opened; admin writes are refused until the file "
                "is restored and the gateway restarted"
            )
        if found != self._identity:
            raise StoreUnavailableError(
                f"pool file {self.location} was replaced by another file while the gateway was "
                "running; admin writes are refused until the gateway is restarted"
            )
        try:
            with open(self.location, "rb") as fh:
                header = fh.read(len(_MAGIC))
        except OSError as exc:
            raise StoreUnavailableError(f"pool file {self.location} is unreadable: {exc}") from None
        if header != _MAGIC:
            raise StoreUnavailableError(
                f"pool file {self.location} is corrupt: expected the SQLite header "
                f"{_MAGIC!r}, found {header!r}"
            )

    def watch(self, callback: Callable[[int], None]) -> None:
        """SQLite has no change notification; other processes' writes are found by polling."""

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        """Turn SQLite's errors about the file (not constraint errors) into StoreUnavailable."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise StoreUnavailableError(
                f"cannot {what} the pool file {self.location}: {exc}"
            ) from None


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino
