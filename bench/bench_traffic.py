"""What the decision log and feedback cost a request, and what a slow log store does.

    PYTHONPATH=src .venv/bin/python bench/bench_traffic.py [--n 1500]

Three gateways run in this process on one FakeUpstream and the tiny hashing-encoder router of the
test suite: logging off, logging on (SQLite), and logging on with a store that takes 0.5 s per
batch write and a 64-record queue (made slow on purpose). Requests alternate between them (same
load, same moment), so the p50 difference is the cost of logging. The slow-store gateway must
answer every request, no slower, and count the records it dropped. Feedback is timed separately
(POST /v1/feedback on logged requests). Writes docs/results/traffic_overhead.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from polyroute.encoders import HashingEncoder
from polyroute.gateway_config import GatewaySettings
from polyroute.routers import make_router
from polyroute.server import create_app
from polyroute.testing import FakeUpstream, ServerThread
from polyroute.traffic import DecisionRecord, SQLiteLogStore

MODELS = ("math-pro", "poet", "cheap")
KEY = "sk-bench"


class SlowStore(SQLiteLogStore):
    """A SQLite log store made slow on purpose (0.5 s per batch)."""

    def write(self, records: Sequence[DecisionRecord]) -> None:
        time.sleep(0.5)
        super().write(records)


def _settings(url: str, traffic: dict[str, Any]) -> GatewaySettings:
    return GatewaySettings.model_validate(
        {
            "server": {"ephemeral_pool": True, "access_log": False},
            "models": [
                {
                    "name": m,
                    "cost_per_query_usd": c,
                    "input_cost_per_mtok": 1.0,
                    "output_cost_per_mtok": 2.0,
                    "deployments": [{"name": "d", "base_url": url}],
                }
                for m, c in zip(MODELS, (0.01, 0.005, 0.0001), strict=True)
            ],
            "profiles": [{"name": "auto", "encoder": "hashing", "cost_weight": 0.0}],
            "security": {"client_keys": [{"name": "bench", "env": "BENCH_KEY"}]},
            "traffic": traffic,
        }
    )


def _router(enc: HashingEncoder) -> Any:
    texts, labels = [], []
    for i in range(120):
        texts.append(f"solve x + {i} = {2 * i}" if i % 2 else f"a poem about the sea {i}")
        labels.append(i % 2)
    y = np.array(labels, dtype=float)
    Y = np.stack([y, 1 - y, np.full(120, 0.4)], axis=1)
    return make_router("uniroute-kmeans", n_clusters=2, random_state=0).fit(
        enc.encode(texts), Y, model_names=list(MODELS)
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--out", default="docs/results")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="polyroute-bench-traffic-"))
    enc = HashingEncoder(dim=256)
    router = _router(enc)
    variants = {
        "log off": ({}, None),
        "log on": ({"log": True, "log_path": str(tmp / "on.db")}, None),
        "log on, slow store": (
            {"log": True, "queue_size": 64, "batch_size": 16},
            SlowStore(tmp / "slow.db"),
        ),
    }
    with FakeUpstream(lambda req: "ok") as up:
        servers = {}
        for name, (traffic, store) in variants.items():
            app = create_app(
                _settings(up.base_url, traffic),
                environ={"BENCH_KEY": KEY},
                encoders={"hashing": enc},
                routers={"auto": router},
                log_store=store,
            )
            servers[name] = ServerThread(app).__enter__()
        apps = {n: s.app for n, s in servers.items()}  # type: ignore[attr-defined]
        clients = {
            n: httpx.Client(base_url=s.url + "/v1", headers={"authorization": f"Bearer {KEY}"})
            for n, s in servers.items()
        }
        body = {"model": "auto", "messages": [{"role": "user", "content": "solve x + 3 = 6"}]}
        lat: dict[str, list[float]] = {n: [] for n in servers}
        status: dict[str, list[int]] = {n: [] for n in servers}
        ids: list[str] = []
        for _ in range(50):  # warm-up
            for c in clients.values():
                c.post("/chat/completions", json=body)
        for _ in range(args.n):
            for n, c in clients.items():
                t = time.perf_counter()
                r = c.post("/chat/completions", json=body)
                lat[n].append((time.perf_counter() - t) * 1000)
                status[n].append(r.status_code)
                if n == "log on":
                    ids.append(r.headers["x-request-id"])
        fb = []
        for rid in ids[:500]:
            t = time.perf_counter()
            r = clients["log on"].post("/feedback", json={"request_id": rid, "score": 1.0})
            fb.append((time.perf_counter() - t) * 1000)
            r.raise_for_status()
        slow_log = apps["log on, slow store"].gateway.traffic.log
        stats_slow = slow_log.stats()
        for c in clients.values():
            c.close()
        for s in servers.values():
            s.__exit__(None, None, None)
    p50 = {n: float(np.percentile(v, 50)) for n, v in lat.items()}
    p99 = {n: float(np.percentile(v, 99)) for n, v in lat.items()}
    result = {
        "command": "PYTHONPATH=src python bench/bench_traffic.py " + " ".join(sys.argv[1:]),
        "n_per_variant": args.n,
        "p50_ms": p50,
        "p99_ms": p99,
        "added_p50_ms_logging": p50["log on"] - p50["log off"],
        "added_p50_ms_slow_store": p50["log on, slow store"] - p50["log off"],
        "non_200": {n: int(sum(s != 200 for s in v)) for n, v in status.items()},
        "slow_store": {
            "submitted": stats_slow.submitted,
            "written_before_shutdown": stats_slow.written,
            "dropped": stats_slow.dropped,
        },
        "feedback_p50_ms": float(np.percentile(fb, 50)),
        "feedback_p99_ms": float(np.percentile(fb, 99)),
    }
    out = Path(args.out)
    (out / "traffic_overhead.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
