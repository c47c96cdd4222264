"""A SQLite pool file deleted, replaced or corrupted under a running pool: writes are refused
(never acknowledged into a file nobody reads), health says why, reads keep the last good view."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from polyroute.exceptions import StoreUnavailableError
from polyroute.gateway_config import ModelSettings
from polyroute.pool import ModelPool


def _pool(tmp_path: Path) -> tuple[ModelPool, Path]:
    path = tmp_path / "pool.sqlite3"
    pool = ModelPool(path)
    pool.seed([ModelSettings(name="a")])
    pool.snapshot()
    return pool, path


def test_deleted_file_refuses_writes_and_keeps_the_last_good_snapshot(tmp_path: Path) -> None:
    pool, path = _pool(tmp_path)
    path.unlink()
    with pytest.raises(StoreUnavailableError, match="was deleted"):
        pool.upsert_model(ModelSettings(name="b"))
    ok, why = pool.health()
    assert not ok and "deleted" in why and pool.last_problem == why
    assert pool.snapshot().model_names() == ["a"]
    pool.close()


def test_replaced_file_refuses_writes(tmp_path: Path) -> None:
    pool, path = _pool(tmp_path)
    path.rename(tmp_path / "moved.sqlite3")
    sqlite3.connect(path).execute("CREATE TABLE x (y)").connection.close()
    with pytest.raises(StoreUnavailableError, match="replaced"):
        pool.upsert_model(ModelSettings(name="b"))
    pool.close()


def test_corrupted_header_is_reported_and_writes_refused(tmp_path: Path) -> None:
    pool, path = _pool(tmp_path)
    with open(path, "r+b") as fh:
        fh.write(b"not a database!!")
    ok, why = pool.health()
    assert not ok and "corrupt" in why and "expected the SQLite header" in why
    with pytest.raises(StoreUnavailableError):
        pool.upsert_model(ModelSettings(name="b"))
    assert pool.version() >= 1  # no exception on the engine's version check
    pool.close()
