"""ModelPool: SQLite persistence, seeding, versions and change notifications."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from polyroute.exceptions import DataError, UnknownComponentError
from polyroute.gateway_config import ModelSettings
from polyroute.pool import ModelPool, parse_deployment, parse_model
from polyroute.state import InMemoryStateStore

SEED = [
    ModelSettings(name="b-model", cost_per_query_usd=0.1),
    ModelSettings.model_validate(
        {
            "name": "a/model",
            "deployments": [
                {"name": "d1", "base_url": "http://127.0.0.1:1/v1", "api_key_env": "KEY_A"}
            ],
        }
    ),
]


def test_seeds_once_keeps_config_order_and_persists_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "pool.sqlite3"
    pool = ModelPool(path)
    assert pool.seed(SEED) is True
    pool.upsert_model(ModelSettings(name="c-model"))
    pool.close()
    reopened = ModelPool(path)
    assert reopened.seed([ModelSettings(name="ignored")]) is False
    snap = reopened.snapshot()
    assert snap.model_names() == ["b-model", "a/model", "c-model"]
    assert snap.models["a/model"].deployments[0].api_key_env == "KEY_A"
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened.close()


def test_every_change_bumps_the_version_and_is_published() -> None:
    store = InMemoryStateStore()
    seen: list[int] = []
    store.subscribe(ModelPool.TOPIC, lambda version, payload: seen.append(payload["version"]))
    pool = ModelPool(":memory:", store=store)
    pool.seed(SEED)
    pool.upsert_deployment("b-model", parse_deployment({"name": "x", "base_url": "http://h:1/v1"}))
    pool.remove_deployment("b-model", "x")
    pool.remove_model("a/model")
    assert seen == [1, 2, 3, 4] and pool.version() == 4
    with pytest.raises(UnknownComponentError, match="expected one of: b-model"):
        pool.remove_model("a/model")
    assert pool.version() == 4  # a failed change leaves the version alone


def test_upsert_replaces_deployments_and_remove_cascades_to_profiles() -> None:
    pool = ModelPool(":memory:")
    pool.seed(SEED)
    assert (
        pool.upsert_model(
            parse_model(
                {"name": "a/model", "deployments": [{"name": "d2", "base_url": "http://h:2/v1"}]}
            )
        )
        is False
    )
    assert [d.name for d in pool.get_model("a/model").deployments] == ["d2"]
    X = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    pool.attach_profile("a/model", "hashing", X, np.array([1, 0, 1, 1, 0.5]))
    prof = pool.snapshot().profiles["a/model"]
    np.testing.assert_array_equal(prof.X, X)
    assert prof.encoder == "hashing" and prof.n_prompts == 5
    pool.remove_model("a/model")
    assert pool.snapshot().profiles == {}


def test_bad_admin_payloads_get_precise_errors() -> None:
    pool = ModelPool(":memory:")
    pool.seed(SEED)
    with pytest.raises(DataError, match="deployments.0.weight"):
        parse_model(
            {"name": "m", "deployments": [{"name": "d", "base_url": "http://h/v1", "weight": -1}]}
        )
    with pytest.raises(DataError, match="unique deployment names"):
        parse_model(
            {
                "name": "m",
                "deployments": [
                    {"name": "d", "base_url": "http://h/v1"},
                    {"name": "d", "base_url": "http://h/v1"},
                ],
            }
        )
    with pytest.raises(DataError, match=r"grades in \[0, 1\], found \[0, 3\]"):
        pool.attach_profile("b-model", "hashing", np.zeros((2, 3)), np.array([0.0, 3.0]))
    with pytest.raises(DataError, match=r"X \(2, 3\), y \(3,\)"):
        pool.attach_profile("b-model", "hashing", np.zeros((2, 3)), np.zeros(3))
    with pytest.raises(UnknownComponentError, match="deployment of model 'b-model'"):
        pool.remove_deployment("b-model", "nope")


def test_a_stored_model_that_no_longer_validates_is_left_out_with_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A row written before balancer_params were checked: it must not break every snapshot.
    pool = ModelPool(tmp_path / "pool.sqlite3")
    pool.upsert_model(ModelSettings(name="good"))
    with pool.backend.write() as tx:
        tx.put_model("legacy", '{"name": "legacy", "balancer_params": {"bogus": 1}}')
    with caplog.at_level("ERROR", logger="polyroute.pool._store"):
        snap = pool.snapshot()
    assert snap.model_names() == ["good"]
    assert "'legacy' left out" in caplog.text and "bogus" in caplog.text
    with pytest.raises(DataError, match="bogus"):
        parse_model({"name": "legacy", "balancer_params": {"bogus": 1}})
