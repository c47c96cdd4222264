"""End to end: onboard a model from a real OpenAI-compatible HTTP server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyroute.cli import main
from polyroute.encoders import encode_cached, make_encoder
from polyroute.exceptions import DataError, OnboardingError
from polyroute.onboarding import (
    EndpointConfig,
    ModelCost,
    Outcome,
    OutcomeCache,
    ValidationItem,
    onboard_endpoint,
    onboard_model,
    run_endpoint,
    write_validation_set,
)
from polyroute.routers import load_router, make_router
from polyroute.testing import FakeUpstream, FaultConfig

MATH = ["integral", "derivative", "equation", "polynomial", "matrix", "prime", "sum", "fraction"]
LAW = ["contract", "tort", "plaintiff", "statute", "court", "liability", "defendant", "appeal"]
LETTERS = "ABCD"


def _prompt(topic: str, i: int) -> str:
    words = MATH if topic == "math" else LAW
    rng = np.random.default_rng(i + (0 if topic == "math" else 10_000))
    body = " ".join(rng.choice(words, size=12))
    return f"Question {i} about {body}?\nA. one\nB. two\nC. three\nD. four"


def _items(n_per_topic: int, start: int) -> list[ValidationItem]:
    items = []
    for topic in ("math", "law"):
        for i in range(start, start + n_per_topic):
            items.append(ValidationItem(f"{topic}-{i}", _prompt(topic, i), LETTERS[i % 4]))
    return items


class Responder:
    """Always right on math prompts, right on exactly 1 law prompt in 5; counts calls."""

    def __init__(self, items: list[ValidationItem]) -> None:
        self.truth = {it.prompt: (it.prompt_id, it.reference) for it in items}
        self.calls = 0

    def __call__(self, request: dict) -> str:
        self.calls += 1
        pid, ref = self.truth[request["messages"][-1]["content"]]
        index = int(pid.split("-")[1])
        right = pid.startswith("math") or index % 5 == 0
        letter = ref if right else LETTERS[(LETTERS.index(ref) + 1) % 4]
        return f"Let me think step by step. The answer is ({letter})."


@pytest.fixture
def setting():
    """A router fitted on two reference models, and 40 + 40 validation prompts."""
    encoder = make_encoder("hashing")
    train = _items(60, 1000)
    X_train = encode_cached(encoder, [it.prompt for it in train])
    is_math = np.array([it.prompt_id.startswith("math") for it in train])
    rng = np.random.default_rng(0)
    acc = np.where(is_math[:, None], [0.6, 0.3], [0.6, 0.85])  # generalist, lawyer
    Y = (rng.uniform(size=acc.shape) < acc).astype(float)
    # safety=None: hashed prompts share few words, so the safe rule would lean on the priors;
    # this test is about profiling the endpoint and routing on the profile
    router = make_router("uniroute-kmeans", n_clusters=2, random_state=0, safety=None)
    router.fit(X_train, Y, model_names=["generalist", "lawyer"])
    router.encoder_ = "hashing"
    items = _items(40, 0)
    X_val = encode_cached(encoder, [it.prompt for it in items])
    return {"router": router, "items": items, "X_val": X_val, "encoder": encoder}


def test_onboarded_profile_reflects_endpoint_accuracy_and_routing_follows(setting):
    router, items = setting["router"], setting["items"]
    with FakeUpstream(Responder(items)) as up:
        summary, report = onboard_endpoint(
            router,
            "mathbot",
            items,
            setting["X_val"],
            EndpointConfig(up.base_url, "fake-model"),
            cost=ModelCost(per_query=1.0),
            concurrency=4,
        )
    assert report.n_failed == 0 and len(report.outcomes) == 80
    assert summary["accuracy"] == pytest.approx((40 + 8) / 80)
    by_acc = sorted(c["raw_accuracy"] for c in summary["clusters"] if c["n"] > 0)
    assert by_acc == pytest.approx([0.2, 1.0])  # the law cluster and the math cluster
    test = _items(20, 500)
    X_test = encode_cached(setting["encoder"], [it.prompt for it in test])
    chosen = np.array(router.model_names_)[router.route(X_test, np.ones(3))]
    is_math = np.array([it.prompt_id.startswith("math") for it in test])
    assert (chosen[is_math] == "mathbot").all()
    assert not (chosen[~is_math] == "mathbot").any()
    assert router.model_costs_[-1] == 1.0


def test_failing_endpoint_leaves_router_unchanged(setting):
    router, items = setting["router"], setting["items"]
    before = (list(router.model_names_), router.errors_.copy())
    faults = FaultConfig(error_rates={500: 1.0})
    expected = r"80 of 80 validation prompts failed \(80 HTTP 500 \(after 2 attempts\)\)"
    with (
        FakeUpstream(Responder(items), faults=faults) as up,
        pytest.raises(OnboardingError, match=expected) as info,
    ):
        onboard_endpoint(
            router,
            "broken",
            items,
            setting["X_val"],
            EndpointConfig(up.base_url, "m"),
            max_attempts=2,
            base_delay_s=0.001,
        )
    assert info.value.n_failed == 80 and info.value.reasons == {"HTTP 500 (after 2 attempts)": 80}
    assert router.model_names_ == before[0]
    np.testing.assert_array_equal(router.errors_, before[1])


def test_garbage_answers_are_reported_not_profiled(setting):
    router, items = setting["router"], setting["items"]
    with (
        FakeUpstream(lambda request: "lorem ipsum dolor") as up,
        pytest.raises(OnboardingError, match="80 of 80 answers had no extractable answer"),
    ):
        onboard_endpoint(
            router, "garbage", items, setting["X_val"], EndpointConfig(up.base_url, "m")
        )
    assert "garbage" not in router.model_names_


def test_transient_errors_are_retried(setting):
    items = setting["items"][:20]
    faults = FaultConfig(error_rates={500: 0.3, 429: 0.2}, seed=3)
    with FakeUpstream(Responder(items), faults=faults) as up:
        report = run_endpoint(
            items, EndpointConfig(up.base_url, "m"), max_attempts=8, base_delay_s=0.001
        )
        assert up.stats["status_500"] + up.stats["status_429"] > 0
    assert report.n_failed == 0 and len(report.outcomes) == 20


def test_interrupted_run_resumes_from_cache(setting, tmp_path):
    items = setting["items"]
    responder = Responder(items)
    with FakeUpstream(responder) as up, OutcomeCache(tmp_path / "o.sqlite") as cache:
        endpoint = EndpointConfig(up.base_url, "m")
        run_endpoint(items[:30], endpoint, name="new", cache=cache)  # "interrupted" after 30
        assert responder.calls == 30
        report = run_endpoint(items, endpoint, name="new", cache=cache)
    assert responder.calls == 80 and report.n_cached == 30 and len(report.outcomes) == 80


def test_outcomes_with_unknown_prompt_ids_are_rejected_and_router_unchanged(setting):
    router, items = setting["router"], setting["items"]
    outcomes = [Outcome(it.prompt_id, "m", 1.0) for it in items] + [Outcome("nope-1", "m", 1.0)]
    with pytest.raises(DataError, match=r"1 of 81 outcomes .* e\.g\. \['nope-1'\]"):
        onboard_model(
            router, "m", setting["X_val"], outcomes, prompt_ids=[it.prompt_id for it in items]
        )
    assert router.model_names_ == ["generalist", "lawyer"]


def _router_dir(setting, tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "router"
    setting["router"].save(folder)
    val = write_validation_set(tmp_path / "val.jsonl", setting["items"])
    return folder, val


def test_cli_onboard_endpoint_then_remove(setting, tmp_path, capsys):
    folder, val = _router_dir(setting, tmp_path)
    with FakeUpstream(Responder(setting["items"])) as up:
        code = main(
            [
                "onboard",
                "--router-dir",
                str(folder),
                "--name",
                "mathbot",
                "--base-url",
                up.base_url,
                "--validation-file",
                str(val),
                "--cost-per-query",
                "0.5",
                "--no-progress",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "80/80 prompts graded" in out and "model mathbot: 80 graded prompts" in out
    router = load_router(folder)
    assert router.model_names_[-1] == "mathbot" and router.model_costs_[-1] == 0.5
    assert main(["onboard", "remove", "--router-dir", str(folder), "--name", "mathbot"]) == 0
    assert load_router(folder).model_names_ == ["generalist", "lawyer"]


def test_cli_failing_endpoint_exits_2_and_keeps_files(setting, tmp_path, capsys):
    folder, val = _router_dir(setting, tmp_path)
    before = (folder / "arrays.npz").read_bytes()
    with FakeUpstream(faults=FaultConfig(error_rates={503: 1.0})) as up:
        code = main(
            [
                "onboard",
                "--router-dir",
                str(folder),
                "--name",
                "x",
                "--base-url",
                up.base_url,
                "--validation-file",
                str(val),
                "--max-attempts",
                "1",
                "--no-progress",
            ]
        )
    err = capsys.readouterr().err
    assert code == 2
    assert "polyroute: error: 80 of 80 validation prompts failed (80 HTTP 503" in err
    assert (folder / "arrays.npz").read_bytes() == before


def test_cli_outcomes_file(setting, tmp_path, capsys):
    folder, val = _router_dir(setting, tmp_path)
    outcomes = tmp_path / "o.jsonl"
    outcomes.write_text(
        "\n".join(
            json.dumps(
                {
                    "prompt_id": it.prompt_id,
                    "model": "filebot",
                    "correct": it.prompt_id.startswith("law"),
                }
            )
            for it in setting["items"]
        )
    )
    assert (
        main(
            [
                "onboard",
                "--router-dir",
                str(folder),
                "--name",
                "filebot",
                "--outcomes",
                str(outcomes),
                "--validation-file",
                str(val),
                "--json",
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["model"] == "filebot" and summary["accuracy"] == 0.5
    outcomes.write_text('{"prompt_id": "q-unknown", "model": "x", "correct": true}\n')
    assert (
        main(
            [
                "onboard",
                "--router-dir",
                str(folder),
                "--name",
                "x",
                "--outcomes",
                str(outcomes),
                "--validation-file",
                str(val),
            ]
        )
        == 2
    )
    assert "not in the validation set (80 prompts), e.g. ['q-unknown']" in capsys.readouterr().err
