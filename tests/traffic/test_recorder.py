"""TrafficRecorder: feedback is checked, limited to the key's own requests, and moves the
chosen model's online profile; records reach the store through the batched log."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polyroute.encoders import HashingEncoder
from polyroute.routers import BaseRouter
from polyroute.traffic import (
    DecisionRecord,
    FeedbackError,
    SQLiteLogStore,
    TrafficRecorder,
    TrafficSettings,
)

MATH = "solve the equation x + 7 = 14 and compute the integral"


@pytest.fixture
def recorder(tmp_path: Path) -> TrafficRecorder:
    rec = TrafficRecorder(
        TrafficSettings(log=True, flush_interval_s=0.01), SQLiteLogStore(tmp_path / "d.db")
    )
    yield rec
    rec.close()


def _decided(rec: TrafficRecorder, router: BaseRouter, encoder: HashingEncoder, i: int, key: str):
    X = encoder.encode([MATH])
    rec.submit(
        DecisionRecord(
            request_id=f"req-{i}",
            time_s=1000.0 + i,
            model="math-pro",
            key_id=key,
            profile="auto",
            cluster=int(router.predict_clusters(X)[0]),
            prompt_hash="h",
        )
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([1, 2], "expected a JSON object"),
        ({"score": 1}, "'request_id': expected a non-empty string"),
        ({"request_id": "req-0"}, "'score': expected a number in [0, 1], found None"),
        ({"request_id": "req-0", "score": 1.5}, "found 1.5"),
        ({"request_id": "req-0", "score": True}, "found True"),
        ({"request_id": "req-0", "score": float("nan")}, "found nan"),
        ({"request_id": "req-0", "score": 1, "extra": 2}, "unexpected field(s) ['extra']"),
    ],
)
def test_malformed_feedback_is_a_400_that_says_what_was_expected(
    recorder: TrafficRecorder, body: object, message: str
) -> None:
    with pytest.raises(FeedbackError, match=None) as err:
        recorder.feedback("tester", body)
    assert err.value.status == 400 and message in str(err.value)


def test_feedback_is_limited_to_the_keys_own_requests(
    recorder: TrafficRecorder, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    _decided(recorder, tiny_router, encoder, 0, "tester")
    for key, rid in (("intruder", "req-0"), ("tester", "nope")):
        with pytest.raises(FeedbackError) as err:
            recorder.feedback(key, {"request_id": rid, "score": 1})
        assert err.value.status == 404
    out = recorder.feedback("tester", {"request_id": "req-0", "score": 1})
    assert out == {"request_id": "req-0", "score": 1.0, "profile_updated": False}
    assert recorder.log is not None and recorder.log.flush()
    assert recorder.store is not None and recorder.store.get("req-0").feedback == 1.0  # type: ignore[union-attr]


def test_feedback_moves_the_live_router_after_min_count(
    recorder: TrafficRecorder, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    X = encoder.encode([MATH])
    before = tiny_router.predict_scores(X)
    assert recorder.live_router("auto", tiny_router) is tiny_router
    for i in range(12):
        _decided(recorder, tiny_router, encoder, i, "tester")
        out = recorder.feedback(
            "tester", {"request_id": f"req-{i}", "score": 0}, router_for=lambda p: tiny_router
        )
        assert out["profile_updated"]
    live = recorder.live_router("auto", tiny_router)
    col = tiny_router.model_names_.index("math-pro")
    assert live.predict_scores(X)[0, col] < tiny_router.predict_scores(X)[0, col] - 0.3
    # the shared router itself is never modified
    np.testing.assert_array_equal(tiny_router.predict_scores(X), before)
