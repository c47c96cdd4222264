"""The shared pool backend: one PostgreSQL database for every host (psycopg 3, ``[postgres]``).

Writers from every host are serialised by ``LOCK TABLE meta IN EXCLUSIVE MODE`` (the
counterpart of SQLite's ``BEGIN IMMEDIATE``), so versions and positions never race. Each commit
sends ``NOTIFY polyroute_pool, '<version>'`` in the same transaction; a listener thread per host
(its own connection, reconnecting with back-off) turns notifications into ``watch`` callbacks and
keeps the latest version in memory, so the engine's periodic version check costs no round trip.
After a reconnect the listener reads the version once, so a change made while it was away is
still reported. A write returns only after PostgreSQL committed it (default
``synchronous_commit``); a lost connection, a statement or lock wait over 5 s raise
:class:`~polyroute.exceptions.StoreUnavailableError` and the next call reconnects.

Reads and writes are synchronous, like the SQLite backend's: the engine reads the pool only when
the version changed (the version itself comes from the listener, without a round trip), and
admin writes are rare, but a database that stalls mid-call holds the caller for up to 5 s.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from polyroute.exceptions import ConfigError, MissingDependencyError, StoreUnavailableError
from polyroute.pool._backend import SCHEMA, PoolRows, PoolTransaction

logger = logging.getLogger(__name__)

CHANNEL = "polyroute_pool"
_SCHEMA_LOCK = 7_262_011  # pg_advisory_xact_lock key: two hosts creating the schema at once


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise MissingDependencyError("psycopg", "postgres") from exc
    return psycopg


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresPoolBackend:
    """Pool rows in a PostgreSQL database (``postgresql://user@host:port/db``).

    Parameters
    ----------
    url : str
        libpq connection URL.
    connect_timeout_s : float
        Connect timeout of every connection (libpq ``connect_timeout``, whole seconds, >= 1).
    """

    def __init__(self, url: str, *, connect_timeout_s: float = 5.0) -> None:
        self._pg = _import_psycopg()
        self._url = url
        self.location = redact(url)
        self._connect_timeout = max(1, round(connect_timeout_s))
        self._lock = threading.RLock()
        self._conn: Any = None
        self._latest = 0
        self._listening = False
        self._callbacks: list[Callable[[int], None]] = []
        self._closed = threading.Event()
        self._listener: threading.Thread | None = None
        try:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(SCHEMA.format(blob="BYTEA"))
        except self._pg.Error as exc:
            raise ConfigError(f"cannot open the pool database {self.location}: {exc}") from None
        self._latest = self.version()

    def _connect(self) -> Any:
        # Bounds on waiting: the server cancels a statement or lock wait after 5 s (a write
        # waiting for another host's lock), and TCP gives up on a host that stopped answering
        # after 5 s. A server process that is stopped but whose host still answers TCP is not
        # caught by either (the calls are synchronous; see the module docstring).
        return self._pg.connect(
            self._url,
            autocommit=True,
            connect_timeout=self._connect_timeout,
            options="-c statement_timeout=5000 -c lock_timeout=5000",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
            tcp_user_timeout=5000,
        )

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _execute(self, sql: str, params: tuple[Any, ...]) -> Any:
        return self._conn.execute(sql.replace("?", "%s"), params)

    @contextmanager
    def _translated(self, what: str) -> Iterator[Any]:
        with self._lock:
            try:
                yield self._connection()
            except self._pg.OperationalError as exc:
                raise StoreUnavailableError(
                    f"cannot {what} the pool database {self.location}: {exc}"
                ) from None

    @contextmanager
    def write(self) -> Iterator[PoolTransaction]:
        with self._translated("write to") as conn, conn.transaction():
            conn.execute("LOCK TABLE meta IN EXCLUSIVE MODE")
            tx = PoolTransaction(self._execute)
            yield tx
            version = tx.bump_version()
            conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(version)))
        self._latest = max(self._latest, version)

    def read(self) -> PoolRows:
        with self._translated("read") as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            rows = PoolTransaction(self._execute).read_all()
        self._latest = max(self._latest, rows.version)
        return rows

    def is_seeded(self) -> bool:
        with self._translated("read"):
            return PoolTransaction(self._execute).is_seeded()

    def version(self) -> int:
        if self._listening:  # kept current by the listener: no round trip
            return self._latest
        with self._translated("read"):
            return PoolTransaction(self._execute).version()

    def check(self) -> None:
        with self._translated("read") as conn:
            conn.execute("SELECT 1 FROM meta LIMIT 1")

    def watch(self, callback: Callable[[int], None]) -> None:
        with self._lock:
            self._callbacks.append(callback)
            if self._listener is None:
                self._listener = threading.Thread(
                    target=self._listen, name="polyroute-pool-listen", daemon=True
                )
                self._listener.start()

    def _listen(self) -> None:
        delay_s = 0.05
        while not self._closed.is_set():
            try:
                with self._connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    row = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                    self._seen(int(row[0]) if row else 0)
                    self._listening, delay_s = True, 0.05
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._seen(int(note.payload))
            except self._pg.Error as exc:
                if self._listening:
                    logger.warning("pool change listener lost %s: %s", self.location, exc)
                self._listening = False
                self._closed.wait(delay_s)
                delay_s = min(1.0, delay_s * 2)
        self._listening = False

    def _seen(self, version: int) -> None:
        if version <= self._latest:
            return
        self._latest = version
        for callback in list(self._callbacks):
            try:
                callback(version)
            except Exception:  # the listener must survive a subscriber's bug
                logger.exception("pool change callback failed on version %d", version)

    def close(self) -> None:
        self._closed.set()
        if self._listener is not None:
            self._listener.join(timeout=2.0)
        with self._lock:
            if self._conn is not None:
                self._conn.close()
