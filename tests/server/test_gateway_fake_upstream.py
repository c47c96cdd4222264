"""FakeUpstream: the OpenAI surface, seeded fault rates, and replay of recorded answers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import openai
import pytest

from polyroute.exceptions import ConfigError
from polyroute.testing import FakeUpstream, FaultConfig, replay_responder


def test_fault_rates_are_seeded_and_close_to_the_configuration() -> None:
    faults = FaultConfig(error_rates={500: 0.2, 429: 0.1}, drop_connection_rate=0.1, seed=3)
    outcomes: list[Counter[str]] = []
    for _ in range(2):
        with FakeUpstream(faults=faults) as up, httpx.Client(base_url=up.base_url) as http:
            seen: Counter[str] = Counter()
            for _ in range(400):
                try:
                    resp = http.post("/chat/completions", json={"messages": []})
                    seen[str(resp.status_code)] += 1
                    if resp.status_code == 429:
                        assert float(resp.headers["retry-after"]) == faults.retry_after_s
                except httpx.RemoteProtocolError:
                    seen["drop"] += 1
            outcomes.append(seen)
    assert outcomes[0] == outcomes[1]  # same seed, same sequence
    seen = outcomes[0]
    assert abs(seen["500"] / 400 - 0.2) < 0.06 and abs(seen["429"] / 400 - 0.1) < 0.05
    assert abs(seen["drop"] / 400 - 0.1) < 0.05 and sum(seen.values()) == 400


def test_openai_client_sees_a_normal_server() -> None:
    with FakeUpstream(lambda req: f"{req['model']} says hi", model_names=["m1", "m2"]) as up:
        c = openai.OpenAI(base_url=up.base_url, api_key="unused", max_retries=0)
        assert [m.id for m in c.models.list().data] == ["m1", "m2"]
        msg = c.chat.completions.create(model="m2", messages=[{"role": "user", "content": "x"}])
        assert msg.choices[0].message.content == "m2 says hi"
        stream = c.chat.completions.create(
            model="m1", stream=True, messages=[{"role": "user", "content": "x"}]
        )
        assert "".join(ch.choices[0].delta.content or "" for ch in stream) == "m1 says hi"
        assert up.stats["ok"] == 2 and up.requests[-1]["stream"] is True


def test_bad_fault_configurations_are_rejected() -> None:
    with pytest.raises(ConfigError, match=r"expected a rate in \[0, 1\], found 1.5"):
        FaultConfig(slow_rate=1.5)
    with pytest.raises(ConfigError, match="<= 1, found 1.200"):
        FaultConfig(error_rates={500: 0.7}, drop_connection_rate=0.5)
    with pytest.raises(ConfigError, match="statuses 400-599, found 200"):
        FaultConfig(error_rates={200: 0.1})


def test_replay_answers_with_the_recorded_routerbench_response(data_dir: Path) -> None:
    pytest.importorskip("pandas", reason="reading RouterBench needs the eval extra")
    from polyroute.data import load_dataset

    ds = load_dataset("routerbench", data_dir=data_dir)
    answers = ds.metadata["responses"](models=["gpt-4-1106-preview"])
    i = int(ds.splits["test"][0])
    respond = replay_responder("routerbench", data_dir=str(data_dir))
    with FakeUpstream(respond) as up:
        c = openai.OpenAI(base_url=up.base_url, api_key="unused", max_retries=0)
        got = c.chat.completions.create(
            model="gpt-4-1106-preview", messages=[{"role": "user", "content": ds.prompts[i]}]
        )
        unknown = c.chat.completions.create(
            model="gpt-4-1106-preview", messages=[{"role": "user", "content": "not recorded"}]
        )
    assert got.choices[0].message.content == answers[(ds.prompt_ids[i], "gpt-4-1106-preview")]
    assert "no recorded answer" in (unknown.choices[0].message.content or "")
