"""FallbackChain order and limits; Deadline and Timeouts arithmetic on a fake clock."""

from __future__ import annotations

import math

import pytest

from polyroute.exceptions import ConfigError
from polyroute.resilience import Deadline, FallbackChain, Timeouts
from polyroute.testing import FakeClock

CHAIN = ["gpt-4o", "claude-sonnet", "llama-70b", "mistral-small"]


def test_primary_first_then_chain_order_without_repeats() -> None:
    chain = FallbackChain(CHAIN)
    assert list(chain.models_to_try("llama-70b")) == [
        "llama-70b",
        "gpt-4o",
        "claude-sonnet",
        "mistral-small",
    ]
    assert list(chain.models_to_try("outside-model")) == ["outside-model", *CHAIN]
    assert list(chain.models_to_try()) == CHAIN


def test_excluded_models_are_skipped_and_do_not_use_the_budget() -> None:
    chain = FallbackChain(CHAIN, max_fallbacks=2)
    assert list(chain.models_to_try("gpt-4o", exclude={"claude-sonnet"})) == [
        "gpt-4o",
        "llama-70b",
        "mistral-small",
    ]
    assert list(FallbackChain(CHAIN, max_fallbacks=0).models_to_try("gpt-4o")) == ["gpt-4o"]


def test_next_after_yields_the_next_untried_model() -> None:
    chain = FallbackChain(CHAIN)
    assert chain.next_after(["gpt-4o"]) == "claude-sonnet"
    assert chain.next_after(["gpt-4o"], exclude=["claude-sonnet"]) == "llama-70b"
    assert chain.next_after(CHAIN) is None
    assert len(chain) == 4


def test_chain_rejects_duplicates_and_negative_budget() -> None:
    with pytest.raises(ConfigError, match=r"distinct models, found repeats of \['a'\]"):
        FallbackChain(["a", "b", "a"])
    with pytest.raises(ConfigError, match="max_fallbacks: expected an integer >= 0"):
        FallbackChain(["a"], max_fallbacks=-1)


def test_deadline_counts_down_and_caps_timeouts() -> None:
    clock = FakeClock()
    deadline = Deadline(30.0, clock=clock)
    clock.advance(12.0)
    assert deadline.remaining_s() == pytest.approx(18.0)
    assert deadline.cap(10.0) == 10.0 and deadline.cap(60.0) == pytest.approx(18.0)
    assert deadline.cap(None) == pytest.approx(18.0)
    assert deadline.allows(17.0) and not deadline.allows(18.0)
    clock.advance(20.0)
    assert deadline.expired and deadline.remaining_s() == 0.0


def test_deadline_without_limit_never_expires() -> None:
    clock = FakeClock()
    deadline = Deadline(None, clock=clock)
    clock.advance(1e9)
    assert deadline.remaining_s() == math.inf and not deadline.expired and deadline.cap(5.0) == 5.0


def test_timeouts_validate() -> None:
    assert Timeouts(total_s=30.0, first_token_s=None).first_token_s is None
    with pytest.raises(ConfigError, match="first_token_s: expected a number > 0 or null, found 0"):
        Timeouts(first_token_s=0)
