"""Speed in model-aware profiles: with μ > 0 a slow model loses traffic to an equally good fast
one, and wins it back once it is fast again (its ageing latency estimate lets it be retried)."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
from gateway_helpers import MATH, MODELS, client, running_gateway, settings_for

from polyroute.encoders import HashingEncoder
from polyroute.gateway_config import PRIORITIES, RoutingProfile
from polyroute.routers import make_router
from polyroute.testing import FakeUpstream, FaultConfig


def test_slow_model_loses_traffic_and_wins_it_back(encoder: HashingEncoder) -> None:
    prompts = [f"question number {i} about anything" for i in range(40)]
    Y = np.tile([0.8, 0.8, 0.1], (40, 1))  # math-pro and poet equally good, cheap bad
    router = make_router("uniroute-kmeans", n_clusters=2, random_state=0).fit(
        encoder.encode(prompts), Y, model_names=list(MODELS)
    )
    with FakeUpstream() as a, FakeUpstream() as b, FakeUpstream() as c:
        ups = {"math-pro": a, "poet": b, "cheap": c}
        profile = {"name": "auto", "encoder": "hashing", "cost_weight": 0.0, "latency_weight": 0.5}
        settings = settings_for(
            {m: [u.base_url] for m, u in ups.items()},
            profiles=[profile],
            server={"latency_half_life_s": 0.1},
        )
        with running_gateway(settings, router, encoder) as srv:
            cl = client(srv)

            def picks(n: int) -> Counter[str]:
                return Counter(
                    cl.chat.completions.with_raw_response.create(
                        model="auto", messages=MATH
                    ).headers["x-polyroute-model"]
                    for _ in range(n)
                )

            b.set_faults(FaultConfig(latency_s=0.3))  # poet, the tie-break winner at μ = 0
            picks(4)  # both get measured
            slow = picks(10)
            assert slow["math-pro"] >= 9, slow
            # poet recovers, and math-pro turns mildly slow: poet wins the traffic back only if
            # its old 0.3 s estimate has faded (ten half-lives) and it was retried. (Between two
            # equally fast models the share follows millisecond noise, so it isn't asserted.)
            b.set_faults(None)
            a.set_faults(FaultConfig(latency_s=0.05))
            time.sleep(1.0)
            picks(4)  # both get measured again
            recovered = picks(20)
            assert recovered["poet"] >= 15, recovered


def test_priority_presets_set_both_weights() -> None:
    p = RoutingProfile.model_validate({"name": "p", "priority": "speed"})
    assert (p.cost_weight, p.latency_weight) == PRIORITIES["speed"]
    q = RoutingProfile.model_validate({"name": "q", "priority": "speed", "cost_weight": 0.2})
    assert (q.cost_weight, q.latency_weight) == (0.2, PRIORITIES["speed"][1])
    assert RoutingProfile.model_validate({"name": "r"}).latency_weight == 0.0
