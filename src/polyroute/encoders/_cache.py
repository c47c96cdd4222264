"""On-disk embedding cache: one SQLite file per encoder id, keyed by sha256(text).

Layout: ``<cache dir>/embeddings/<slug>-<sha256(encoder_id)[:12]>.v<format>.sqlite`` with tables
``meta(key, value)`` (encoder id, dim, format) and ``emb(h BLOB PRIMARY KEY, v BLOB)`` where
``h`` is the 32-byte SHA-256 of the UTF-8 text and ``v`` the float32 vector. SQLite (WAL mode, busy
timeout) lets several processes read and fill the same cache at once; an unreadable or mismatched
file is reported with :class:`EmbeddingCacheWarning`, deleted and rebuilt (a single entry of the
wrong size is dropped and re-embedded).
Looking up 18,000 cached texts costs about 0.15 s of CPU (SHA-256 + indexed ``IN`` queries).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from polyroute.config import resolve_cache_dir
from polyroute.encoders._base import Encoder
from polyroute.encoders._texts import check_texts
from polyroute.exceptions import ConfigError, DataError, PolyrouteWarning

if TYPE_CHECKING:
    from polyroute.data import RoutingDataset

FORMAT_VERSION = "2"  # part of the file name: other versions never touch this file
_SQL_CHUNK = 900  # host parameters per query (SQLite's historic limit is 999)
_WRITE_EVERY = 1024  # texts embedded between commits, so an interrupted run keeps its progress
PROGRESS_MIN_MISSES = 256


class EmbeddingCacheWarning(PolyrouteWarning):
    """The embedding cache file was unreadable or did not match its encoder; it was rebuilt."""


def text_key(text: str) -> bytes:
    """Cache key of a text: the 32-byte SHA-256 of its UTF-8 encoding."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def cache_path(encoder_id: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Path of the SQLite file holding the embeddings of ``encoder_id``."""
    slug = re.sub(r"[^A-Za-z0-9.-]+", "_", encoder_id).strip("_")[:60] or "encoder"
    digest = hashlib.sha256(encoder_id.encode("utf-8")).hexdigest()[:12]
    name = f"{slug}-{digest}.v{FORMAT_VERSION}.sqlite"
    return resolve_cache_dir(cache_dir) / "embeddings" / name


class EmbeddingCache:
    """Embeddings of one encoder on disk. Use as a context manager (opens/closes the database).

    Parameters
    ----------
    encoder_id : str
        The encoder's ``encoder_id``; also stored inside the file and checked on open.
    dim : int
        Vector width; a file holding another width is rebuilt.
    cache_dir : path, optional
        Root cache directory (default :func:`polyroute.config.resolve_cache_dir`).
    """

    def __init__(
        self, encoder_id: str, dim: int, *, cache_dir: str | os.PathLike[str] | None = None
    ) -> None:
        self.encoder_id = encoder_id
        self.dim = int(dim)
        self.path = cache_path(encoder_id, cache_dir)
        self._conn: sqlite3.Connection | None = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Open (creating if needed) the database; rebuild it when unreadable or mismatched."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            self._rebuild(f"unreadable ({exc})")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            # a rowid table, not WITHOUT ROWID: 1.5 kB rows would spill into overflow pages
            conn.execute("CREATE TABLE IF NOT EXISTS emb (h BLOB PRIMARY KEY, v BLOB NOT NULL)")
            expected = {
                "encoder_id": self.encoder_id,
                "dim": str(self.dim),
                "format": FORMAT_VERSION,
            }
            found = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if not found:
                conn.executemany("INSERT OR IGNORE INTO meta VALUES (?, ?)", expected.items())
            elif found != expected:
                raise sqlite3.DatabaseError(f"expected metadata {expected}; found {found}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _rebuild(self, reason: str) -> None:
        warnings.warn(
            f"embedding cache {self.path} is {reason}; deleting and rebuilding it",
            EmbeddingCacheWarning,
            stacklevel=4,
        )
        self.close()
        for suffix in ("", "-wal", "-shm", "-journal"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{self.path}{suffix}")
        self._conn = self._connect()

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ConfigError(
                "embedding cache: expected an open cache (use it as a context "
                "manager); found it closed"
            )
        return self._conn

    # ------------------------------------------------------------------ access
    def get(self, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """Look up ``keys``; returns (vectors float32 (n, dim), found bool (n,)).

        Rows not found are zero. Entries of the wrong size are dropped (with a warning) and
        count as misses; an unreadable file is rebuilt (with a warning) and reports no hit.
        """
        vectors = np.zeros((len(keys), self.dim), dtype=np.float32)
        found = np.zeros(len(keys), dtype=bool)
        try:
            self._get_into(keys, vectors, found)
        except sqlite3.DatabaseError as exc:
            self._rebuild(f"unreadable ({exc})")
            vectors[:] = 0.0
            found[:] = False
        return vectors, found

    def _get_into(self, keys: Sequence[bytes], vectors: np.ndarray, found: np.ndarray) -> None:
        position = {key: i for i, key in enumerate(keys)}
        rows: list[int] = []
        blobs: list[bytes] = []
        for start in range(0, len(keys), _SQL_CHUNK):
            chunk = keys[start : start + _SQL_CHUNK]
            marks = ",".join("?" * len(chunk))
            for key, blob in self.conn.execute(f"SELECT h, v FROM emb WHERE h IN ({marks})", chunk):
                rows.append(position[key])
                blobs.append(blob)
        width = self.dim * 4
        if any(len(b) != width for b in blobs):
            rows, blobs = self._drop_bad_entries(keys, rows, blobs, width)
        if not rows:
            return
        index = np.asarray(rows, dtype=np.int64)
        vectors[index] = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(-1, self.dim)
        found[index] = True

    def _drop_bad_entries(
        self, keys: Sequence[bytes], rows: list[int], blobs: list[bytes], width: int
    ) -> tuple[list[int], list[bytes]]:
        bad = [(r, b) for r, b in zip(rows, blobs, strict=True) if len(b) != width]
        warnings.warn(
            f"embedding cache {self.path}: expected {width}-byte vectors; found {len(bad)} "
            f"entries of another size (e.g. {len(bad[0][1])} bytes); dropping them",
            EmbeddingCacheWarning,
            stacklevel=5,
        )
        with self._transaction():
            self.conn.executemany("DELETE FROM emb WHERE h = ?", [(keys[r],) for r, _ in bad])
        good = [(r, b) for r, b in zip(rows, blobs, strict=True) if len(b) == width]
        return [r for r, _ in good], [b for _, b in good]

    def put(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Store ``vectors`` (n, dim) under ``keys`` (replacing existing entries)."""
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        if data.shape != (len(keys), self.dim):
            raise DataError(
                f"expected vectors of shape ({len(keys)}, {self.dim}); found {data.shape}"
            )
        rows = [(key, data[i].tobytes()) for i, key in enumerate(keys)]
        try:
            self._put_rows(rows)
        except sqlite3.DatabaseError as exc:
            self._rebuild(f"unwritable ({exc})")
            self._put_rows(rows)

    def _put_rows(self, rows: list[tuple[bytes, bytes]]) -> None:
        with self._transaction():
            self.conn.executemany("INSERT OR REPLACE INTO emb (h, v) VALUES (?, ?)", rows)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def __len__(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0])


def encode_cached(
    encoder: Encoder,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    batch_size: int = 64,
    show_progress: bool | None = None,
) -> np.ndarray:
    """Embed ``texts`` through the on-disk cache; only texts not cached yet are embedded.

    Parameters
    ----------
    encoder : Encoder
        Anything with ``encoder_id``, ``dim`` and ``encode`` (see :class:`Encoder`).
    texts : sequence of str
        Duplicates are embedded once.
    cache_dir : path, optional
        Root cache directory (default :func:`polyroute.config.resolve_cache_dir`).
    batch_size : int, default 64
        Batch size passed to ``encoder.encode``.
    show_progress : bool or None, default None
        Show a tqdm bar over the texts being embedded. ``None``: show it when at least 256 texts
        miss the cache and stderr is a terminal.

    Returns
    -------
    numpy.ndarray
        float32, shape (len(texts), encoder.dim), rows in input order.
    """
    texts = check_texts(texts)
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size: expected a positive int; found {batch_size!r}")
    dim = int(encoder.dim)
    index: dict[bytes, int] = {}
    inverse = np.fromiter(
        (index.setdefault(text_key(t), len(index)) for t in texts), dtype=np.int64, count=len(texts)
    )
    keys = list(index)
    first = np.zeros(len(keys), dtype=np.int64)
    first[inverse] = np.arange(len(texts))  # an occurrence of each key (same text for all)
    with EmbeddingCache(encoder.encoder_id, dim, cache_dir=cache_dir) as cache:
        vectors, found = cache.get(keys)
        missing = np.flatnonzero(~found)
        if missing.size:
            # longest first: batches of similar length waste the least padding
            missing = missing[np.argsort([-len(texts[first[i]]) for i in missing], kind="stable")]
            _fill_misses(
                encoder,
                cache,
                [texts[first[i]] for i in missing],
                missing,
                keys,
                vectors,
                batch_size,
                _want_progress(show_progress, missing.size),
            )
    return vectors[inverse]


def _fill_misses(
    encoder: Encoder,
    cache: EmbeddingCache,
    miss_texts: list[str],
    missing: np.ndarray,
    keys: list[bytes],
    vectors: np.ndarray,
    batch_size: int,
    progress: bool,
) -> None:
    bar: Any = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(miss_texts), desc=f"embedding ({encoder.encoder_id})", unit="text")
    pending: list[int] = []  # positions in ``missing`` embedded but not yet written
    try:
        for start in range(0, len(miss_texts), batch_size):
            stop = min(start + batch_size, len(miss_texts))
            vectors[missing[start:stop]] = _encode_checked(
                encoder, miss_texts[start:stop], batch_size
            )
            pending.extend(range(start, stop))
            if len(pending) >= _WRITE_EVERY or stop == len(miss_texts):
                rows = missing[pending]
                cache.put([keys[i] for i in rows], vectors[rows])
                pending.clear()
            if bar is not None:
                bar.update(stop - start)
    finally:
        if bar is not None:
            bar.close()


def _encode_checked(encoder: Encoder, texts: list[str], batch_size: int) -> np.ndarray:
    out = np.asarray(encoder.encode(texts, batch_size=batch_size), dtype=np.float32)
    if out.shape != (len(texts), encoder.dim):
        raise DataError(
            f"encoder {encoder.encoder_id!r} returned shape {out.shape}; "
            f"expected ({len(texts)}, {encoder.dim})"
        )
    if not np.isfinite(out).all():
        raise DataError(f"encoder {encoder.encoder_id!r} returned non-finite values")
    return out


def _want_progress(show_progress: bool | None, n_missing: int) -> bool:
    if show_progress is not None:
        return bool(show_progress)
    return n_missing >= PROGRESS_MIN_MISSES and sys.stderr is not None and sys.stderr.isatty()


def embed_dataset(
    dataset: RoutingDataset,
    encoder: Encoder | str | None = None,
    **kwargs: Any,
) -> np.ndarray:
    """Embeddings of ``dataset.prompts`` (row order kept), through the cache.

    Parameters
    ----------
    dataset : RoutingDataset
    encoder : Encoder or str, optional
        An encoder, or a name for :func:`make_encoder`; default ``"minilm"``.
    **kwargs
        Passed to :func:`encode_cached` (``cache_dir``, ``batch_size``, ``show_progress``).
    """
    if encoder is None or isinstance(encoder, str):
        from polyroute.encoders._registry import make_encoder

        encoder = make_encoder(encoder or "minilm")
    return encode_cached(encoder, [str(p) for p in dataset.prompts], **kwargs)
