"""Decision log: records round-trip through SQLite; the writer batches off the caller's thread,
drops (and counts) when the store is slow, and never blocks the caller."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from polyroute.traffic import (
    DecisionLog,
    DecisionRecord,
    SQLiteLogStore,
    prompt_digest,
    usage_cost_usd,
)


def _record(i: int, *, t: float = 1000.0, **kw: object) -> DecisionRecord:
    base: dict[str, object] = {
        "request_id": f"req-{i}",
        "time_s": t + i,
        "model": "cheap",
        "key_id": "tester",
        "profile": "auto",
        "cost_weight": 0.3,
        "deployment": "cheap-d0",
        "candidates": ("big", "cheap"),
        "predicted_quality": (0.9, 0.6),
        "candidate_cost_usd": (0.01, 0.001),
        "cluster": 2,
        "prompt_tokens": 12,
        "completion_tokens": 30,
        "cost_usd": usage_cost_usd(12, 30, input_cost_per_mtok=1.0, output_cost_per_mtok=2.0),
        "latency_ms": 5.0,
        "ttft_ms": 2.0,
        "encoder": "hashing",
        "embedding": np.arange(4, dtype=np.float32) + i,
        "prompt_hash": prompt_digest(f"prompt {i}"),
    }
    base.update(kw)
    return DecisionRecord(**base)  # type: ignore[arg-type]


def test_records_and_feedback_round_trip_through_sqlite(tmp_path: Path) -> None:
    store = SQLiteLogStore(tmp_path / "log" / "decisions.db")
    store.write([_record(0), _record(1, prompt_text="hello")])
    got = store.get("req-1")
    assert got is not None and got.prompt_text == "hello" and got.feedback is None
    assert got.candidates == ("big", "cheap") and got.predicted_quality == (0.9, 0.6)
    assert got.cost_usd == pytest.approx((12 * 1.0 + 30 * 2.0) / 1e6)
    assert got.embedding is not None and got.embedding.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert store.get("nope") is None
    store.set_feedback("req-1", 0.75, source="api")
    assert [r.feedback for r in store.records()] == [None, 0.75]
    assert [r.request_id for r in store.records(since_s=1000.5)] == ["req-1"]
    store.close()


def test_retention_removes_old_and_surplus_records(tmp_path: Path) -> None:
    store = SQLiteLogStore(tmp_path / "d.db", retention_days=1.0, max_records=3)
    store.write(
        [_record(i, t=0.0) for i in range(2)] + [_record(i, t=86400.0) for i in range(2, 7)]
    )
    store.set_feedback("req-0", 1.0, source="api")
    removed = store.prune(now_s=86400.0 * 1.5)
    assert removed == 2 + 2
    assert [r.request_id for r in store.records()] == ["req-4", "req-5", "req-6"]
    assert store.count() == 3


def test_prompt_digest_is_stable_and_hides_the_text() -> None:
    assert prompt_digest("abc") == prompt_digest("abc") != prompt_digest("abd")
    assert "abc" not in prompt_digest("abc") and len(prompt_digest("abc")) == 64
    assert usage_cost_usd(None, None, input_cost_per_mtok=1, output_cost_per_mtok=1) is None


def test_the_writer_batches_records_into_the_store(tmp_path: Path) -> None:
    store = SQLiteLogStore(tmp_path / "d.db")
    log = DecisionLog(store, batch_size=50, flush_interval_s=0.05)
    for i in range(120):
        assert log.submit(_record(i))
    assert log.flush()
    log.close()
    stats = log.stats()
    assert (stats.submitted, stats.written, stats.dropped, stats.failed) == (120, 120, 0, 0)
    assert store.count() == 120


class _SlowStore(SQLiteLogStore):
    """The SQLite store made slow on purpose: each batch waits until released."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.release = threading.Event()

    def write(self, records: Sequence[DecisionRecord]) -> None:
        self.release.wait(10.0)
        super().write(records)


def test_a_slow_store_never_blocks_the_caller_and_drops_are_counted(tmp_path: Path) -> None:
    store = _SlowStore(tmp_path / "d.db")
    log = DecisionLog(store, max_queue=10, batch_size=5, flush_interval_s=0.01)
    start = time.perf_counter()
    accepted = [log.submit(_record(i)) for i in range(200)]
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0  # the store is stuck for 10 s: submitting never waited for it
    stats = log.stats()
    assert stats.dropped == accepted.count(False) >= 200 - 10 - 5
    store.release.set()
    assert log.flush()
    log.close()
    assert store.count() == log.stats().written == accepted.count(True)


class _BrokenStore(SQLiteLogStore):
    def write(self, records: Sequence[DecisionRecord]) -> None:
        raise OSError("disk full")


def test_a_failing_store_counts_failures_and_keeps_the_writer_alive(tmp_path: Path) -> None:
    log = DecisionLog(_BrokenStore(tmp_path / "d.db"), batch_size=2, flush_interval_s=0.01)
    for i in range(4):
        log.submit(_record(i))
    assert log.flush()
    assert log.stats().failed == 4 and log.submit(_record(9))
    log.close()
