"""``DecisionLog``: records leave the request path through a bounded queue, written in batches.

The request path only calls :meth:`DecisionLog.submit`, a non-blocking ``put`` on a bounded
queue: when the store is slow and the queue is full the record is dropped and counted, so a slow
or broken store never delays a request. A background thread drains the queue in batches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from polyroute.traffic._record import DecisionRecord
from polyroute.traffic._store import LogStore

logger = logging.getLogger(__name__)
_STOP = object()


@dataclass(frozen=True)
class LogStats:
    """Counters of a decision log since it started."""

    submitted: int
    written: int
    dropped: int
    failed: int
    queued: int


class DecisionLog:
    """Batched, lossy-under-pressure writer of decision records.

    Parameters
    ----------
    store : LogStore
        Where batches go (written only from the log's own thread).
    max_queue : int
        Records waiting at most; beyond it new records are dropped (and counted).
    batch_size : int
        Records per write.
    flush_interval_s : float
        Longest a record waits for its batch to fill.
    prune_interval_s : float
        How often the store's retention is applied.
    clock : callable
        Wall-clock seconds (for pruning).
    """

    def __init__(
        self,
        store: LogStore,
        *,
        max_queue: int = 10_000,
        batch_size: int = 256,
        flush_interval_s: float = 0.2,
        prune_interval_s: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.prune_interval_s = prune_interval_s
        self._clock = clock
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queue)
        self._submitted = 0
        self._dropped = 0
        self._written = 0
        self._failed = 0
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(
            target=self._run, name="polyroute-decision-log", daemon=True
        )
        self._thread.start()

    def submit(self, record: DecisionRecord) -> bool:
        """Queue ``record``; ``False`` (and counted as dropped) when the queue is full."""
        self._submitted += 1
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self._dropped += 1
            return False
        self._idle.clear()
        return True

    def stats(self) -> LogStats:
        return LogStats(
            self._submitted, self._written, self._dropped, self._failed, self._queue.qsize()
        )

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every queued record has been written (or failed); ``False`` on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.empty() and self._idle.wait(0.01) and self._queue.empty():
                return True
        return False

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (within ``timeout_s``) and stop the thread."""
        try:
            self._queue.put(_STOP, timeout=timeout_s)
        except queue.Full:
            logger.warning("decision log: queue still full at shutdown; records lost")
            return
        self._thread.join(timeout_s)

    def _run(self) -> None:
        last_prune = self._clock()
        while True:
            batch: list[DecisionRecord] = []
            stop = False
            try:
                item = self._queue.get(timeout=self.flush_interval_s)
            except queue.Empty:
                self._idle.set()
                continue
            deadline = time.monotonic() + self.flush_interval_s
            while True:
                if item is _STOP:
                    stop = True
                    break
                assert isinstance(item, DecisionRecord)
                batch.append(item)
                if len(batch) >= self.batch_size:
                    break
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
            self._write(batch)
            now = self._clock()
            if now - last_prune >= self.prune_interval_s:
                last_prune = now
                self._prune(now)
            if self._queue.empty():
                self._idle.set()
            if stop:
                return

    def _write(self, batch: list[DecisionRecord]) -> None:
        if not batch:
            return
        try:
            self.store.write(batch)
        except Exception:  # the log's edge: a store failure must not kill the writer thread
            self._failed += len(batch)
            logger.exception("decision log: writing %d records failed", len(batch))
        else:
            self._written += len(batch)

    def _prune(self, now: float) -> None:
        try:
            removed = self.store.prune(now)
        except Exception:  # same edge as _write
            logger.exception("decision log: retention pruning failed")
        else:
            if removed:
                logger.info("decision log: %d records past retention removed", removed)
