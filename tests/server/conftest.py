"""Gateway fixtures: a tiny UniRoute router on hashing embeddings, FakeUpstreams, and a real
gateway served by uvicorn on a loopback port, driven with the official ``openai`` client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from gateway_helpers import MODELS, running_gateway, settings_for

from polyroute.encoders import HashingEncoder
from polyroute.routers import BaseRouter, make_router
from polyroute.testing import FakeUpstream, ServerThread


@pytest.fixture(scope="session")
def encoder() -> HashingEncoder:
    return HashingEncoder(dim=256)


@pytest.fixture(scope="session")
def tiny_router(encoder: HashingEncoder) -> BaseRouter:
    """Clusters of math vs poetry prompts: ``math-pro`` is right on math, ``poet`` on poetry."""
    prompts, labels = [], []
    for i in range(120):
        if i % 2:
            prompts.append(f"solve the equation x + {i} = {2 * i} and compute the integral")
        else:
            prompts.append(f"write a poem about the moon and the sea number {i}")
        labels.append(i % 2)
    y_math = np.array(labels, dtype=float)
    Y = np.stack([y_math, 1 - y_math, np.full(len(labels), 0.4)], axis=1)
    X = encoder.encode(prompts)
    return make_router("uniroute-kmeans", n_clusters=2, random_state=0).fit(
        X, Y, model_names=list(MODELS)
    )


@pytest.fixture
def gateway_factory(
    tiny_router: BaseRouter, encoder: HashingEncoder
) -> Iterator[Callable[..., ServerThread]]:
    """``factory(upstreams, **settings_extra)`` -> a started gateway (stopped after the test)."""
    with ExitStack() as stack:

        def factory(upstreams: dict[str, list[str]], **extra: Any) -> ServerThread:
            return stack.enter_context(
                running_gateway(settings_for(upstreams, **extra), tiny_router, encoder)
            )

        yield factory


@pytest.fixture
def upstreams() -> Iterator[dict[str, FakeUpstream]]:
    """One FakeUpstream per model, each answering with its model's name."""
    with ExitStack() as stack:
        yield {
            m: stack.enter_context(FakeUpstream(lambda req, m=m: f"answer from {m}"))
            for m in MODELS
        }
