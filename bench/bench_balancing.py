"""Cost per decision and distribution properties of the gateway's balancing/resilience blocks.

Writes ``docs/results/balancing.json`` and ``docs/results/balancing.md``; the numbers quoted in
``docs/gateway-strategies.md`` come from here. Timings are microseconds per operation on this
machine (median of ``--repeats`` runs); the distribution figures are seeded and deterministic.
When ``redis-server`` is on PATH (or ``--redis-url`` is given) the state-dependent operations are
also timed against a real Redis on loopback.

Usage::

    .venv/bin/python bench/bench_balancing.py [--n 20000] [--repeats 5] [--out docs/results]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from polyroute._types import Deployment
from polyroute.balancing import HashRing, available_balancers, make_balancer
from polyroute.resilience import CircuitBreaker
from polyroute.state import InMemoryStateStore, RedisStateStore, StateStore
from polyroute.testing import redis_server, redis_server_available

COMMAND = ".venv/bin/python bench/bench_balancing.py"
DEPS = [
    Deployment(f"d{i}", "m", f"http://127.0.0.1:{9000 + i}/v1", weight=1 + i % 2) for i in range(4)
]


def _time_us(op: Callable[[int], object], n: int, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for i in range(n):
            op(i)
        runs.append((time.perf_counter() - start) / n * 1e6)
    return round(statistics.median(runs), 2)


def _balancer_op(name: str, store: StateStore) -> Callable[[int], object]:
    balancer = make_balancer(name, store=store, rng=random.Random(0))

    def op(i: int) -> None:
        dep = balancer.choose(DEPS, key=f"user-{i % 1000}")
        balancer.on_start(dep)
        balancer.on_success(dep, 0.05)

    return op


def _timings(store_factory: Callable[[], StateStore], n: int, repeats: int) -> dict[str, float]:
    out = {
        f"balancer {name}": _time_us(_balancer_op(name, store_factory()), n, repeats)
        for name in available_balancers()
    }
    breaker = CircuitBreaker(store=store_factory(), name="m/d0")

    def breaker_op(i: int) -> None:
        if breaker.allow():
            breaker.record_success()

    out["circuit allow + record_success"] = _time_us(breaker_op, n, repeats)
    store = store_factory()
    loop = asyncio.new_event_loop()  # take is awaited; the timing includes one loop step
    out["token bucket take"] = _time_us(
        lambda i: loop.run_until_complete(store.take(f"k{i % 100}", rate_per_s=1e6, burst=1e6)),
        n,
        repeats,
    )
    loop.close()
    return out


def _ewma_shares() -> dict[str, float]:
    """Share of traffic on deployment a: while a is 10x slower, then after it turns 2.5x faster."""
    now = [0.0]
    balancer = make_balancer("latency-ewma", rng=random.Random(0), clock=lambda: now[0])
    deps = [Deployment(n, "m", "http://x/v1") for n in "ab"]

    def share_of_a(latency: dict[str, float], n: int, last: int) -> float:
        picks = []
        for _ in range(n):
            dep = balancer.choose(deps)
            balancer.on_start(dep)
            now[0] += 0.1  # one request every 100 ms
            balancer.on_success(dep, latency[dep.name])
            picks.append(dep.name)
        return round(picks[-last:].count("a") / last, 4)

    slow = share_of_a({"a": 0.5, "b": 0.05}, 1000, 900)
    fast = share_of_a({"a": 0.02, "b": 0.05}, 2500, 500)
    return {"a_slow_share_last_900": slow, "a_fast_again_share_last_500": fast}


def _distribution() -> dict[str, object]:
    wrr = make_balancer("weighted-round-robin")
    deps = [
        Deployment(n, "m", "http://x/v1", weight=w) for n, w in zip("abc", (5, 1, 1), strict=False)
    ]
    wrr_seq = "".join(wrr.choose(deps).name for _ in range(7))
    rnd = make_balancer("random", rng=random.Random(1234))
    deps = [
        Deployment(n, "m", "http://x/v1", weight=w) for n, w in zip("abc", (5, 3, 2), strict=False)
    ]
    counts = Counter(rnd.choose(deps).name for _ in range(20_000))
    keys = [f"user-{i}" for i in range(10_000)]
    ring = HashRing([f"node-{i}" for i in range(5)])
    before = {k: ring.lookup(k) for k in keys}
    spread = Counter(before.values())
    ring.add("node-5")
    moved = sum(before[k] != ring.lookup(k) for k in keys)
    return {
        "wrr_5_1_1_period": wrr_seq,
        "random_5_3_2_shares_20k": {k: round(v / 20_000, 4) for k, v in sorted(counts.items())},
        "hash_ring_10k_keys_5_nodes_max_dev_from_even": round(
            max(abs(c - 2000) / 2000 for c in spread.values()), 4
        ),
        "hash_ring_add_6th_node_moved_share": round(moved / len(keys), 4),
        "hash_ring_ideal_moved_share": round(1 / 6, 4),
        "latency_ewma_shift": _ewma_shares(),
    }


@contextmanager
def _redis(url: str | None) -> Iterator[str | None]:
    """The given URL, a throw-away local redis-server, or None when neither is available."""
    if url is not None or not redis_server_available():
        yield url
        return
    with redis_server() as started:
        yield started


def _markdown(result: dict[str, object]) -> str:
    memory, redis = result["in_memory_us"], result.get("redis_us") or {}
    assert isinstance(memory, dict) and isinstance(redis, dict)
    lines = [
        "# Balancing and resilience building blocks: cost per operation",
        "",
        (
            f"Command: `{COMMAND}` ({result['n']} operations x {result['repeats']} runs, median; "
            f"Python {result['python']}, shared 2-core box, so timings are indicative)."
        ),
        "",
        "| operation (4 deployments) | in-memory store, µs | Redis on loopback, µs |",
        "|---|---:|---:|",
    ]
    for op, us in memory.items():
        lines.append(f"| {op} | {us} | {redis.get(op, '-')} |")
    lines += [
        "",
        "Balancer rows time `choose` + `on_start` + `on_success` together.",
        "",
        "## Distribution (seeded, deterministic)",
        "",
        "| property | value |",
        "|---|---|",
    ]
    dist = result["distribution"]
    assert isinstance(dist, dict)
    lines += [f"| {k} | {v} |" for k, v in dist.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/results"))
    args = parser.parse_args()
    result: dict[str, object] = {
        "n": args.n,
        "repeats": args.repeats,
        "python": platform.python_version(),
        "in_memory_us": _timings(InMemoryStateStore, args.n, args.repeats),
        "distribution": _distribution(),
    }
    with _redis(args.redis_url) as url:
        if url is not None:
            n = max(1, args.n // 10)
            result["redis_n"] = n
            result["redis_us"] = _timings(
                lambda: RedisStateStore(url, prefix="bench:"), n, args.repeats
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "balancing.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "balancing.md").write_text(_markdown(result))
    print(_markdown(result))


if __name__ == "__main__":
    main()
