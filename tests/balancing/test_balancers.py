"""Distribution properties of the balancing strategies (seeded RNGs, fake clocks, no sleeps)."""

from __future__ import annotations

import random
import textwrap
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from polyroute._types import Deployment
from polyroute.balancing import (
    Balancer,
    LatencyEwmaBalancer,
    LeastConnectionsBalancer,
    RandomBalancer,
    RoundRobinBalancer,
    WeightedRoundRobinBalancer,
    available_balancers,
    make_balancer,
)
from polyroute.exceptions import (
    ConfigError,
    NoHealthyDeploymentError,
    UnknownComponentError,
    UpstreamServerError,
    UpstreamTimeout,
)
from polyroute.state import InMemoryStateStore
from polyroute.testing import FakeClock

NAMES = (
    "round-robin",
    "weighted-round-robin",
    "random",
    "least-connections",
    "latency-ewma",
    "consistent-hash",
)


def deps(*weights: float, limit: int | None = None) -> list[Deployment]:
    return [
        Deployment(
            chr(ord("a") + i),
            "m",
            f"http://127.0.0.1:{9000 + i}/v1",
            weight=w,
            max_concurrency=limit,
        )
        for i, w in enumerate(weights)
    ]


def run(balancer: Balancer, candidates: Sequence[Deployment], n: int) -> list[str]:
    """Choose ``n`` times, each request completing at once."""
    names = []
    for _ in range(n):
        dep = balancer.choose(candidates)
        balancer.on_start(dep)
        balancer.on_success(dep, 0.1)
        names.append(dep.name)
    return names


# -- round-robin ---------------------------------------------------------------------------------
def test_round_robin_cycles_evenly() -> None:
    picks = run(RoundRobinBalancer(), deps(1, 5, 1), 300)
    assert picks[:6] == ["a", "b", "c", "a", "b", "c"]
    assert Counter(picks) == {"a": 100, "b": 100, "c": 100}  # weights are ignored


# -- smooth weighted round-robin -----------------------------------------------------------------
def test_smooth_wrr_matches_nginx_sequence_for_5_1_1() -> None:
    picks = run(WeightedRoundRobinBalancer(), deps(5, 1, 1), 700)
    nginx_period = ["a", "a", "b", "a", "c", "a", "a"]  # documented in nginx's ngx_http_upstream_rr
    assert all(picks[i : i + 7] == nginx_period for i in range(0, 700, 7))
    assert Counter(picks) == {"a": 500, "b": 100, "c": 100}


@pytest.mark.parametrize("weights", [(3, 2, 1), (0.5, 0.25, 0.25), (7, 3), (1, 1, 1, 1)])
def test_smooth_wrr_exact_frequencies_over_each_period(weights: tuple[float, ...]) -> None:
    candidates = deps(*weights)
    scale = 4 if any(w < 1 for w in weights) else 1
    period = round(sum(weights) * scale)
    picks = run(WeightedRoundRobinBalancer(), candidates, period * 10)
    for start in range(0, len(picks), period):
        counts = Counter(picks[start : start + period])
        assert counts == {d.name: round(d.weight * scale) for d in candidates}


def test_smooth_wrr_interleaves_instead_of_bursting() -> None:
    picks = run(WeightedRoundRobinBalancer(), deps(2, 1), 30)
    longest = max(len(run_) for run_ in "".join(picks).replace("b", " ").split())
    assert longest == 2  # a a b a a b ..., never a a a


# -- weighted random -----------------------------------------------------------------------------
def test_weighted_random_frequencies_pass_chi_square() -> None:
    candidates, n = deps(5, 3, 2), 20_000
    counts = Counter(run(RandomBalancer(rng=random.Random(1234)), candidates, n))
    chi2 = sum((counts[d.name] - n * d.weight / 10) ** 2 / (n * d.weight / 10) for d in candidates)
    assert chi2 < 13.82  # chi-square critical value, 2 degrees of freedom, p = 0.001


def test_weighted_random_is_reproducible_with_a_seed() -> None:
    first = run(RandomBalancer(rng=random.Random(5)), deps(1, 2, 3), 200)
    assert first == run(RandomBalancer(rng=random.Random(5)), deps(1, 2, 3), 200)
    assert first != run(RandomBalancer(rng=random.Random(6)), deps(1, 2, 3), 200)


# -- least connections ---------------------------------------------------------------------------
def test_least_conn_prefers_idle_deployment() -> None:
    balancer, (a, b, c) = LeastConnectionsBalancer(rng=random.Random(0)), deps(1, 1, 1)
    for dep in (a, a, b):
        balancer.on_start(dep)
    assert balancer.choose([a, b, c]) == c
    balancer.on_start(c)
    assert {balancer.choose([a, b, c]).name for _ in range(50)} == {"b", "c"}  # tie, random
    balancer.on_success(a, 0.1)
    balancer.on_success(a, 0.2)
    assert balancer.choose([a, b, c]) == a


def test_least_conn_counts_in_flight_per_unit_of_weight() -> None:
    balancer, (big, small) = LeastConnectionsBalancer(rng=random.Random(0)), deps(2, 1)
    placed = []
    for _ in range(6):  # nothing finishes: in-flight grows 2:1
        dep = balancer.choose([big, small])
        balancer.on_start(dep)
        placed.append(dep.name)
    assert Counter(placed) == {"a": 4, "b": 2}


def test_least_conn_idle_ties_follow_weights() -> None:
    counts = Counter(run(LeastConnectionsBalancer(rng=random.Random(3)), deps(3, 1), 8000))
    assert counts["a"] / 8000 == pytest.approx(0.75, abs=0.02)


def test_least_conn_in_flight_never_leaks_when_requests_fail() -> None:
    balancer, candidates = LeastConnectionsBalancer(rng=random.Random(0)), deps(1, 1, 1)
    rng = random.Random(9)
    outstanding: list[Deployment] = []
    for i in range(500):
        dep = balancer.choose(candidates)
        assert balancer.in_flight(dep) == min(balancer.in_flight(d) for d in candidates)
        balancer.on_start(dep)
        outstanding.append(dep)
        if rng.random() < 0.7:
            done = outstanding.pop(rng.randrange(len(outstanding)))
            try:  # the engine's pattern: exactly one outcome hook in try/except
                if i % 3 == 0:
                    raise UpstreamTimeout("slow", deployment=done.name)
            except UpstreamTimeout as exc:
                balancer.on_failure(done, exc)
            else:
                balancer.on_success(done, 0.1)
        counts = Counter(d.name for d in outstanding)
        assert [balancer.in_flight(d) for d in candidates] == [counts[d.name] for d in candidates]
    for dep in outstanding:
        balancer.on_failure(dep, UpstreamServerError("boom"))
    assert [balancer.in_flight(d) for d in candidates] == [0, 0, 0]


def test_least_conn_replicas_sharing_a_store_see_each_others_load() -> None:
    store = InMemoryStateStore()
    one = LeastConnectionsBalancer(store=store, rng=random.Random(0))
    two = LeastConnectionsBalancer(store=store, rng=random.Random(1))
    a, b = deps(1, 1)
    one.on_start(a)
    assert two.choose([a, b]) == b


# -- max_concurrency -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_deployment_at_its_limit_is_skipped(name: str) -> None:
    balancer = make_balancer(name, rng=random.Random(0), clock=FakeClock())
    a, b = (
        Deployment("a", "m", "http://x/v1", max_concurrency=2),
        Deployment("b", "m", "http://y/v1"),
    )
    balancer.on_start(a)
    balancer.on_start(a)
    assert {balancer.choose([a, b], key=f"k{i}").name for i in range(40)} == {"b"}
    with pytest.raises(NoHealthyDeploymentError, match=r"concurrency limit .*a 2/2"):
        balancer.choose([a])
    balancer.on_failure(a, UpstreamServerError("x"))
    assert balancer.choose([a]) == a


def test_empty_candidates_raise_a_clear_error() -> None:
    with pytest.raises(NoHealthyDeploymentError, match="expected at least one healthy candidate"):
        RoundRobinBalancer().choose([])


# -- latency EWMA --------------------------------------------------------------------------------
def ewma_traffic(
    balancer: LatencyEwmaBalancer, clock: FakeClock, latency: dict[str, float], n: int
) -> list[str]:
    candidates, picks = deps(1, 1), []
    for _ in range(n):
        dep = balancer.choose(candidates)
        balancer.on_start(dep)
        clock.advance(0.1)
        balancer.on_success(dep, latency[dep.name])
        picks.append(dep.name)
    return picks


def test_ewma_tries_unexplored_deployments_first() -> None:
    balancer = LatencyEwmaBalancer(rng=random.Random(0), clock=FakeClock())
    assert run(balancer, deps(1, 1, 1), 3) == ["a", "b", "c"]


def test_ewma_shifts_traffic_away_from_slow_and_back_after_it_speeds_up() -> None:
    clock = FakeClock()
    balancer = LatencyEwmaBalancer(
        alpha=0.3, decay_half_life_s=30.0, rng=random.Random(0), clock=clock
    )
    slow_a = ewma_traffic(balancer, clock, {"a": 0.5, "b": 0.05}, 1000)
    assert Counter(slow_a[-900:])["b"] >= 0.98 * 900
    fast_a = ewma_traffic(balancer, clock, {"a": 0.02, "b": 0.05}, 2500)
    assert Counter(fast_a[-500:])["a"] >= 0.95 * 500  # aged estimate -> probe -> a wins back


def test_ewma_learns_time_to_first_token_for_streams() -> None:
    a, b = deps(1, 1)
    for metric, expected in (("auto", "a"), ("latency", "b")):
        balancer = LatencyEwmaBalancer(metric=metric, clock=FakeClock(), rng=random.Random(0))
        for dep, total, ttft in ((a, 3.0, 0.1), (b, 1.0, 0.5)):  # a: fast TTFT, long answer
            balancer.on_start(dep)
            balancer.on_success(dep, total, ttft_s=ttft)
        assert balancer.choose([a, b]).name == expected


def test_ewma_penalises_failures() -> None:
    clock = FakeClock()
    balancer, (a, b) = LatencyEwmaBalancer(failure_penalty_s=5.0, clock=clock), deps(1, 1)
    for dep in (a, b):
        balancer.on_start(dep)
        balancer.on_success(dep, 0.2 if dep is a else 0.3)
    assert balancer.choose([a, b]) == a
    balancer.on_start(a)
    balancer.on_failure(a, UpstreamTimeout("timeout"))
    assert balancer.estimate_s(a) == pytest.approx(0.7 * 0.2 + 0.3 * 5.0)
    assert balancer.choose([a, b]) == b


def test_ewma_scales_by_in_flight_load() -> None:
    balancer, (a, b) = LatencyEwmaBalancer(clock=FakeClock()), deps(1, 1)
    for dep, latency in ((a, 0.1), (b, 0.15)):
        balancer.on_start(dep)
        balancer.on_success(dep, latency)
    balancer.on_start(a)  # a: 0.1 * 2 > b: 0.15 * 1
    assert balancer.choose([a, b]) == b


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0}, "alpha: expected a number in"),
        ({"metric": "p99"}, "metric: expected one of"),
        ({"failure_penalty_s": -1}, "expected numbers > 0"),
    ],
)
def test_ewma_rejects_bad_parameters(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        LatencyEwmaBalancer(**kwargs)  # type: ignore[arg-type]


# -- registry ------------------------------------------------------------------------------------
def test_registry_builds_every_documented_name() -> None:
    assert set(NAMES) <= set(available_balancers())
    for name in NAMES:
        assert isinstance(make_balancer(name, rng=random.Random(0)), Balancer)


def test_unknown_balancer_lists_the_valid_names() -> None:
    with pytest.raises(
        UnknownComponentError,
        match="unknown balancer 'fastest'; expected one of: "
        "consistent-hash, latency-ewma, least-connections",
    ):
        make_balancer("fastest")


def test_third_party_balancer_registers_through_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "my_balancers.py").write_text(
        textwrap.dedent("""
        from polyroute.balancing import Balancer

        class FirstBalancer(Balancer):
            def _pick(self, candidates, key):
                return candidates[0]
    """)
    )
    dist = tmp_path / "my_balancers-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-balancers\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[polyroute.balancers]\nfirst = my_balancers:FirstBalancer\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available_balancers()["first"] == "my_balancers:FirstBalancer"
    assert make_balancer("first").choose(deps(1, 1)).name == "a"
