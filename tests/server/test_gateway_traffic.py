"""The gateway's traffic loop with the official openai client: every request logged (key name,
usage cost, embedding, prompt hash), feedback limited to the key's own requests, hard budgets
answered with 429 budget_exceeded, spend per key/model/profile on /admin/spend."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from gateway_helpers import ADMIN_KEY, CLIENT_KEY, ENV, MATH, POEM, client, settings_for

from polyroute.encoders import HashingEncoder
from polyroute.routers import BaseRouter
from polyroute.server import create_app
from polyroute.testing import FakeUpstream, ServerThread
from polyroute.traffic import SQLiteLogStore, prompt_digest

OTHER_KEY = "sk-other-test"


@contextmanager
def _gateway(
    upstreams: dict[str, FakeUpstream],
    router: BaseRouter,
    encoder: HashingEncoder,
    traffic: dict[str, Any],
) -> Iterator[ServerThread]:
    settings = settings_for(
        {m: [u.base_url] for m, u in upstreams.items()},
        traffic=traffic,
        security={
            "client_keys": [
                {"name": "tester", "env": "TEST_CLIENT_KEY"},
                {"name": "other", "env": "OTHER_KEY"},
            ],
            "max_body_bytes": 4096,
        },
    )
    app = create_app(
        settings,
        environ={**ENV, "OTHER_KEY": OTHER_KEY},
        encoders={"hashing": encoder},
        routers={"auto": router},
    )
    with ServerThread(app) as srv:
        yield srv


def _feedback(c: openai.OpenAI, body: Any) -> Any:
    return c.post("/feedback", body=body, cast_to=object)


def _log(tmp_path: Path) -> SQLiteLogStore:
    return SQLiteLogStore(tmp_path / "decisions.db")


def test_requests_are_logged_and_feedback_is_the_keys_own(
    tmp_path: Path, upstreams, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    traffic = {"log": True, "log_path": str(tmp_path / "decisions.db"), "flush_interval_s": 0.01}
    with _gateway(upstreams, tiny_router, encoder, traffic) as srv:
        c, other = client(srv), client(srv, OTHER_KEY)
        raw = c.chat.completions.with_raw_response.create(model="auto", messages=MATH)
        rid = raw.headers["x-request-id"]
        assert raw.headers["x-polyroute-model"] == "math-pro"
        poem_id = other.chat.completions.with_raw_response.create(
            model="auto", messages=POEM
        ).headers["x-request-id"]
        # another key's request, an unknown id: 404 (indistinguishable)
        for who, target in ((other, rid), (c, poem_id), (c, "no-such-id")):
            with pytest.raises(openai.NotFoundError) as err:
                _feedback(who, {"request_id": target, "score": 1})
            assert err.value.status_code == 404 and "made with this key" in str(err.value)
        for bad, expected in (
            ({"request_id": rid, "score": 1.5}, "'score': expected a number in [0, 1]"),
            ({"request_id": rid}, "'score': expected a number in [0, 1], found None"),
            ({"score": 0.5}, "'request_id': expected a non-empty string"),
            ([rid, 1], "expected a JSON object"),
        ):
            with pytest.raises(openai.BadRequestError) as err:
                _feedback(c, bad)
            assert expected in str(err.value)
        with httpx.Client(base_url=srv.url) as h:
            malformed = h.post(
                "/v1/feedback",
                content=b"{not json",
                headers={"authorization": f"Bearer {CLIENT_KEY}"},
            )
        assert malformed.status_code == 400 and "error" in malformed.json()
        ok = _feedback(c, {"request_id": rid, "score": 0.75})
        assert ok["request_id"] == rid and ok["score"] == 0.75
    rec = _log(tmp_path).get(rid)  # the gateway stopped: its log was flushed
    assert rec is not None and rec.key_id == "tester" and rec.model == "math-pro"
    assert rec.deployment == "math-pro-d0" and rec.status == 200 and rec.feedback == 0.75
    assert rec.profile == "auto" and rec.candidates == ("math-pro", "poet", "cheap")
    assert rec.prompt_hash == prompt_digest(MATH[0]["content"]) and rec.prompt_text is None
    assert rec.embedding is not None and rec.embedding.shape == (256,)
    assert rec.prompt_tokens and rec.completion_tokens
    expected = (rec.prompt_tokens * 1.0 + rec.completion_tokens * 2.0) / 1e6  # usage × prices
    assert rec.cost_usd == pytest.approx(expected)
    assert _log(tmp_path).get(poem_id).key_id == "other"  # type: ignore[union-attr]


def test_log_prompts_text_keeps_the_prompt(
    tmp_path: Path, upstreams, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    traffic = {"log": True, "log_path": str(tmp_path / "decisions.db"), "log_prompts": "text"}
    with _gateway(upstreams, tiny_router, encoder, traffic) as srv:
        rid = (
            client(srv)
            .chat.completions.with_raw_response.create(model="auto", messages=POEM)
            .headers["x-request-id"]
        )
    assert _log(tmp_path).get(rid).prompt_text == POEM[0]["content"]  # type: ignore[union-attr]


def test_a_hard_budget_answers_429_budget_exceeded_and_spend_is_reported(
    upstreams, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    # math-pro's routing estimate is $0.01 per request and its answers cost ~$0.00004 (usage ×
    # prices): admitted while spend + $0.01 fits in $0.0102, then 429
    traffic = {"budgets": [{"key": "tester", "limit_usd": 0.0102, "mode": "hard"}]}
    with _gateway(upstreams, tiny_router, encoder, traffic) as srv:
        c = client(srv)
        n_ok = 0
        with pytest.raises(openai.RateLimitError) as err:
            for _ in range(100):
                c.chat.completions.create(model="auto", messages=MATH)
                n_ok += 1
        assert err.value.code == "budget_exceeded" and 1 <= n_ok < 100
        client(srv, OTHER_KEY).chat.completions.create(model="auto", messages=MATH)  # no budget
        with httpx.Client(base_url=srv.url) as h:
            assert (
                h.get("/admin/spend", headers={"authorization": f"Bearer {CLIENT_KEY}"}).status_code
                == 403
            )
            spend = h.get("/admin/spend", headers={"authorization": f"Bearer {ADMIN_KEY}"}).json()
    budget = spend["budgets"][0]
    assert budget["key"] == "tester" and 0 < budget["spent_usd"] <= 0.0102  # never exceeded
    keys = {(r["key"], r["model"], r["profile"]) for r in spend["spend"]}
    assert keys == {("tester", "math-pro", "auto"), ("other", "math-pro", "auto")}


def test_feedback_without_the_decision_log_is_404(
    upstreams, tiny_router: BaseRouter, encoder: HashingEncoder
) -> None:
    with _gateway(upstreams, tiny_router, encoder, {}) as srv, pytest.raises(openai.NotFoundError):
        _feedback(client(srv), {"request_id": "x", "score": 1})
