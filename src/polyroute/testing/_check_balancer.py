"""``check_balancer``: the conformance checks every registered balancer passes."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from polyroute._types import Deployment
from polyroute.balancing import Balancer
from polyroute.exceptions import NoHealthyDeploymentError, UpstreamServerError

BalancerFactory = Callable[[], Balancer]


def _deps(
    n: int, *, weights: Sequence[float] | None = None, limit: int | None = None
) -> list[Deployment]:
    weights = weights if weights is not None else [1.0] * n
    return [
        Deployment(
            f"d{i}",
            "check-model",
            f"http://127.0.0.1:{9000 + i}/v1",
            weight=w,
            max_concurrency=limit,
        )
        for i, w in enumerate(weights)
    ]


def _finish(balancer: Balancer, dep: Deployment, i: int) -> None:
    if i % 7 == 3:
        balancer.on_failure(dep, UpstreamServerError("check", status_code=500))
    else:
        balancer.on_success(dep, 0.05, ttft_s=0.01 if i % 2 else None)


def _check_empty(factory: BalancerFactory) -> None:
    balancer = factory()
    for key in (None, "k"):
        try:
            balancer.choose([], key=key)
        except NoHealthyDeploymentError:
            continue
        raise AssertionError(f"{balancer!r}.choose([]) must raise NoHealthyDeploymentError")


def _check_members_and_hooks(factory: BalancerFactory) -> None:
    balancer, rng, deps = factory(), random.Random(7), _deps(5, weights=[1, 2, 3, 1, 1])
    open_: list[Deployment] = []
    for i in range(600):
        candidates = rng.sample(deps, rng.randint(1, len(deps)))
        dep = balancer.choose(candidates, key=f"user-{rng.randrange(50)}" if i % 2 else None)
        assert dep in candidates, f"{balancer!r} returned {dep.name}, not among the candidates"
        balancer.on_start(dep)
        open_.append(dep)
        if rng.random() < 0.6:
            _finish(balancer, open_.pop(rng.randrange(len(open_))), i)
        expected = Counter(d.key for d in open_)
        for d in deps:
            assert balancer.in_flight(d) == expected[d.key], (
                f"{balancer!r}: in-flight of {d.name} is {balancer.in_flight(d)}, "
                f"expected {expected[d.key]}"
            )
    for i, dep in enumerate(open_):
        _finish(balancer, dep, i)
    leaked = {d.name: balancer.in_flight(d) for d in deps if balancer.in_flight(d)}
    assert not leaked, f"{balancer!r}: in-flight counts leaked after every request ended: {leaked}"


def _check_concurrency_limit(factory: BalancerFactory) -> None:
    balancer, deps = factory(), _deps(3, limit=1)
    started = []
    for i in range(3):
        dep = balancer.choose(deps, key=f"k{i}")
        assert dep not in started, f"{balancer!r} chose {dep.name}, already at max_concurrency=1"
        balancer.on_start(dep)
        started.append(dep)
    try:
        balancer.choose(deps, key="k")
    except NoHealthyDeploymentError:
        pass
    else:
        raise AssertionError(f"{balancer!r}: every deployment at its limit must raise")
    balancer.on_success(started[1], 0.1)
    assert balancer.choose(deps) == started[1], f"{balancer!r} ignored the freed deployment"


def _sequence(balancer: Balancer, deps: Sequence[Deployment], n: int) -> list[str]:
    picks = []
    for i in range(n):
        dep = balancer.choose(deps, key=f"user-{i}" if i % 3 else None)
        balancer.on_start(dep)
        _finish(balancer, dep, i)
        picks.append(dep.name)
    return picks


def _check_deterministic(factory: BalancerFactory) -> None:
    deps = _deps(4, weights=[1, 2, 3, 4])
    first, second = _sequence(factory(), deps, 300), _sequence(factory(), deps, 300)
    assert first == second, "two balancers from the same factory (same seed) picked differently"


def _check_weights(factory: BalancerFactory, n_picks: int = 6000, rel_tol: float = 0.15) -> None:
    balancer, deps = factory(), _deps(3, weights=[3.0, 2.0, 1.0])
    counts: Counter[str] = Counter()
    for i in range(n_picks):
        dep = balancer.choose(deps, key=f"user-{i}")
        balancer.on_start(dep)
        balancer.on_success(dep, 0.05)
        counts[dep.name] += 1
    for dep in deps:
        expected = n_picks * dep.weight / 6.0
        assert abs(counts[dep.name] - expected) <= rel_tol * expected, (
            f"{balancer!r}: {dep.name} (weight {dep.weight}) got {counts[dep.name]} of "
            f"{n_picks} picks, expected {expected:.0f} ± {rel_tol:.0%}"
        )


def _check_key_affinity(factory: BalancerFactory, n_keys: int = 3000) -> None:
    balancer, deps = factory(), _deps(6)
    keys = [f"session-{i}" for i in range(n_keys)]
    before = {k: balancer.choose(deps[:5], key=k) for k in keys}
    again = {k: balancer.choose(deps[:5], key=k) for k in keys}
    assert before == again, f"{balancer!r}: the same key moved with unchanged candidates"
    after = {k: balancer.choose(deps, key=k) for k in keys}
    moved = [k for k in keys if after[k] != before[k]]
    assert all(after[k] == deps[5] for k in moved), "keys moved between old deployments"
    assert len(moved) <= 1.5 * n_keys / 6, (
        f"{balancer!r}: adding a 6th deployment moved {len(moved)}/{n_keys} keys, "
        f"expected about 1/6 ({n_keys // 6})"
    )
    restored = {k: balancer.choose(deps[:5], key=k) for k in keys}
    assert restored == before, f"{balancer!r}: removing the 6th deployment did not restore keys"


def check_balancer(factory: BalancerFactory) -> None:
    """Run the balancer conformance checks; raise ``AssertionError`` naming the first failure.

    Parameters
    ----------
    factory : callable
        Returns a fresh balancer with a seeded ``rng`` (and, where it matters, a fake
        ``clock``) on every call; two calls must give balancers that behave identically.

    Notes
    -----
    Checks: ``choose([])`` raises :class:`NoHealthyDeploymentError`; every pick is a member of the
    candidates; in-flight counts follow ``on_start``/``on_success``/``on_failure`` and never leak;
    a deployment at ``max_concurrency`` is skipped and all at the limit raise; same seed, same
    picks. Balancers with ``respects_weights`` match weights 3/2/1 within ±15% over 6,000 picks;
    those with ``is_key_affine`` keep keys stable and move at most ~1/n of them (all to the new
    deployment) when one is added, restoring them when it is removed.

    Examples
    --------
    >>> import random
    >>> from polyroute.balancing import make_balancer
    >>> check_balancer(lambda: make_balancer("random", rng=random.Random(0)))
    """
    _check_empty(factory)
    _check_members_and_hooks(factory)
    _check_concurrency_limit(factory)
    _check_deterministic(factory)
    probe = factory()
    if type(probe).respects_weights:
        _check_weights(factory)
    if type(probe).is_key_affine:
        _check_key_affinity(factory)
