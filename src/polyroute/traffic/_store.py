"""Where decision records and feedback live: the ``LogStore`` interface and its SQLite store.

A store is written by one background thread (:class:`DecisionLog`) in batches and read by the
CLI (calibrate, replay) and the feedback endpoint. Another backend (PostgreSQL for multi-host
gateways) implements the same :class:`LogStore` methods.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.exceptions import DataError
from polyroute.traffic._online import FeedbackCounts, OnlineSettings, add_outcome
from polyroute.traffic._record import DecisionRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    request_id TEXT PRIMARY KEY, time_s REAL NOT NULL, key_id TEXT, profile TEXT,
    cost_weight REAL, model TEXT NOT NULL, deployment TEXT, candidates TEXT NOT NULL,
    support REAL, cluster INTEGER, prompt_tokens INTEGER, completion_tokens INTEGER,
    cost_usd REAL, latency_ms REAL, ttft_ms REAL, status INTEGER NOT NULL,
    fallback INTEGER NOT NULL, encoder TEXT, embedding BLOB, prompt_hash TEXT NOT NULL,
    prompt_text TEXT);
CREATE INDEX IF NOT EXISTS decisions_time ON decisions (time_s);
CREATE TABLE IF NOT EXISTS feedback (
    request_id TEXT PRIMARY KEY, score REAL NOT NULL, time_s REAL NOT NULL, source TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profile_events (profile TEXT PRIMARY KEY, event INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS profile_feedback (
    profile TEXT NOT NULL, model TEXT NOT NULL, errors BLOB NOT NULL, counts BLOB NOT NULL,
    event INTEGER NOT NULL, PRIMARY KEY (profile, model));
"""
_COLUMNS = (
    "request_id, time_s, key_id, profile, cost_weight, model, deployment, candidates, support, "
    "cluster, prompt_tokens, completion_tokens, cost_usd, latency_ms, ttft_ms, status, fallback, "
    "encoder, embedding, prompt_hash, prompt_text"
)


class LogStore(ABC):
    """Persistence of decision records and their feedback."""

    @abstractmethod
    def write(self, records: Sequence[DecisionRecord]) -> None:
        """Store a batch (a record whose id exists is replaced)."""

    @abstractmethod
    def get(self, request_id: str) -> DecisionRecord | None:
        """One record with its feedback, or ``None``."""

    @abstractmethod
    def records(
        self, *, since_s: float | None = None, profile: str | None = None, limit: int | None = None
    ) -> list[DecisionRecord]:
        """Records (with feedback) in time order, optionally filtered."""

    @abstractmethod
    def set_feedback(self, request_id: str, score: float, *, source: str) -> None:
        """Record (or replace) the graded outcome of a request."""

    @abstractmethod
    def feedback_counts(self, profile: str) -> tuple[int, dict[str, FeedbackCounts]]:
        """The profile's feedback event index and each model's stored (undecayed) counts."""

    @abstractmethod
    def record_outcome(
        self, profile: str, model: str, *, n_cells: int, cell: int, score: float,
        settings: OnlineSettings,
    ) -> int:  # fmt: skip
        """Add one graded outcome to ``model``'s counts atomically; returns the new event index."""

    @abstractmethod
    def prune(self, now_s: float) -> int:
        """Apply the retention settings; returns the number of records removed."""

    @abstractmethod
    def close(self) -> None:
        """Release connections."""


class SQLiteLogStore(LogStore):
    """Decision log in a SQLite file (WAL mode; one connection per thread).

    Parameters
    ----------
    path : str or Path
        Database file (its folder is created); ``":memory:"`` keeps it in one connection.
    retention_days : float, optional
        Records older than this are removed by :meth:`prune` (``None`` keeps them).
    max_records : int, optional
        At most this many records are kept (the oldest go first).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        retention_days: float | None = 30.0,
        max_records: int | None = 1_000_000,
    ) -> None:
        self.path = str(path)
        self.retention_days = retention_days
        self.max_records = max_records
        if self.path != ":memory:":
            Path(self.path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._shared: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        with self._db() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        if self.path == ":memory:":  # one connection, shared across threads under the lock
            if self._shared is None:
                self._shared = sqlite3.connect(":memory:", check_same_thread=False)
            return self._shared
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with self._lock if self.path == ":memory:" else _nolock():
            yield self._connect()

    def write(self, records: Sequence[DecisionRecord]) -> None:
        rows = [_row(r) for r in records]
        with self._db() as db:
            db.execute("BEGIN")
            db.executemany(
                f"INSERT OR REPLACE INTO decisions ({_COLUMNS}) VALUES ({', '.join('?' * 21)})",
                rows,
            )
            db.execute("COMMIT")

    def get(self, request_id: str) -> DecisionRecord | None:
        found = self._select("WHERE d.request_id = ?", (request_id,))
        return found[0] if found else None

    def records(
        self, *, since_s: float | None = None, profile: str | None = None, limit: int | None = None
    ) -> list[DecisionRecord]:
        where: list[str] = []
        args: list[Any] = []
        if since_s is not None:
            where.append("d.time_s >= ?")
            args.append(since_s)
        if profile is not None:
            where.append("d.profile = ?")
            args.append(profile)
        sql = ("WHERE " + " AND ".join(where)) if where else ""
        sql += " ORDER BY d.time_s, d.rowid"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self._select(sql, tuple(args))

    def _select(self, tail: str, args: tuple[Any, ...]) -> list[DecisionRecord]:
        cols = ", ".join(f"d.{c.strip()}" for c in _COLUMNS.split(","))
        with self._db() as db:
            rows = db.execute(
                f"SELECT {cols}, f.score FROM decisions d "
                f"LEFT JOIN feedback f ON f.request_id = d.request_id {tail}",
                args,
            ).fetchall()
        return [_record(r) for r in rows]

    def set_feedback(self, request_id: str, score: float, *, source: str) -> None:
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO feedback (request_id, score, time_s, source) "
                "VALUES (?, ?, ?, ?)",
                (request_id, float(score), time.time(), source),
            )

    def feedback_counts(self, profile: str) -> tuple[int, dict[str, FeedbackCounts]]:
        with self._db() as db:
            row = db.execute(
                "SELECT event FROM profile_events WHERE profile = ?", (profile,)
            ).fetchone()
            rows = db.execute(
                "SELECT model, errors, counts, event FROM profile_feedback WHERE profile = ?",
                (profile,),
            ).fetchall()
        counts = {
            m: FeedbackCounts(np.frombuffer(e, np.float64), np.frombuffer(c, np.float64), ev)
            for m, e, c, ev in rows
        }
        return (int(row[0]) if row else 0), counts

    def record_outcome(
        self, profile: str, model: str, *, n_cells: int, cell: int, score: float,
        settings: OnlineSettings,
    ) -> int:  # fmt: skip
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # replicas sharing the file serialise here
            try:
                row = db.execute(
                    "SELECT event FROM profile_events WHERE profile = ?", (profile,)
                ).fetchone()
                event = (int(row[0]) if row else 0) + 1
                old = db.execute(
                    "SELECT errors, counts, event FROM profile_feedback "
                    "WHERE profile = ? AND model = ?",
                    (profile, model),
                ).fetchone()
                current = None
                if old is not None:
                    current = FeedbackCounts(
                        np.frombuffer(old[0], np.float64), np.frombuffer(old[1], np.float64), old[2]
                    )
                new = add_outcome(
                    current, n_cells=n_cells, cell=cell, score=score, event=event,
                    settings=settings,
                )  # fmt: skip
                db.execute(
                    "INSERT OR REPLACE INTO profile_events (profile, event) VALUES (?, ?)",
                    (profile, event),
                )
                db.execute(
                    "INSERT OR REPLACE INTO profile_feedback "
                    "(profile, model, errors, counts, event) VALUES (?, ?, ?, ?, ?)",
                    (profile, model, new.errors.tobytes(), new.counts.tobytes(), event),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return event

    def prune(self, now_s: float) -> int:
        removed = 0
        with self._db() as db:
            if self.retention_days is not None:
                cut = now_s - self.retention_days * 86400.0
                removed += db.execute("DELETE FROM decisions WHERE time_s < ?", (cut,)).rowcount
            if self.max_records is not None:
                removed += db.execute(
                    "DELETE FROM decisions WHERE rowid IN (SELECT rowid FROM decisions "
                    "ORDER BY time_s DESC LIMIT -1 OFFSET ?)",
                    (self.max_records,),
                ).rowcount
            db.execute(
                "DELETE FROM feedback WHERE request_id NOT IN (SELECT request_id FROM decisions)"
            )
        return removed

    def count(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None
        if self._shared is not None:
            self._shared.close()
            self._shared = None


@contextmanager
def _nolock() -> Iterator[None]:
    yield


def _row(r: DecisionRecord) -> tuple[Any, ...]:
    candidates = json.dumps(
        [
            {"model": m, "predicted_quality": q, "cost_usd": c}
            for m, q, c in zip(r.candidates, r.predicted_quality, r.candidate_cost_usd, strict=True)
        ]
    )
    emb = None
    if r.embedding is not None:
        emb = np.ascontiguousarray(np.asarray(r.embedding, dtype=np.float32).ravel()).tobytes()
    return (
        r.request_id, r.time_s, r.key_id, r.profile, r.cost_weight, r.model, r.deployment,
        candidates, r.support, r.cluster, r.prompt_tokens, r.completion_tokens, r.cost_usd,
        r.latency_ms, r.ttft_ms, r.status, int(r.fallback), r.encoder, emb, r.prompt_hash,
        r.prompt_text,
    )  # fmt: skip


def _record(row: tuple[Any, ...]) -> DecisionRecord:
    try:
        cands = json.loads(row[7])
    except json.JSONDecodeError as exc:
        raise DataError(f"decision {row[0]!r}: candidates are not JSON ({exc})") from None
    emb = None if row[18] is None else np.frombuffer(row[18], dtype=np.float32)
    return DecisionRecord(
        request_id=row[0],
        time_s=row[1],
        key_id=row[2],
        profile=row[3],
        cost_weight=row[4],
        model=row[5],
        deployment=row[6],
        candidates=tuple(c["model"] for c in cands),
        predicted_quality=tuple(c["predicted_quality"] for c in cands),
        candidate_cost_usd=tuple(c["cost_usd"] for c in cands),
        support=row[8],
        cluster=row[9],
        prompt_tokens=row[10],
        completion_tokens=row[11],
        cost_usd=row[12],
        latency_ms=row[13],
        ttft_ms=row[14],
        status=row[15],
        fallback=bool(row[16]),
        encoder=row[17],
        embedding=emb,
        prompt_hash=row[19],
        prompt_text=row[20],
        feedback=row[21],
    )
