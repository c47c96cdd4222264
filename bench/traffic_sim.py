"""Traffic simulation: real RouterBench prompts with known grades through the gateway and
FakeUpstream, grades returned as feedback (drift), λ calibrated on the first half of the traffic
(calibration), and a key with a hard budget (budget).

    PYTHONPATH=src .venv/bin/python bench/traffic_sim.py [--n-drift 2400] [--n-calib 1600]

Writes docs/results/traffic.{json,md,png}. The router is UniRoute K-means (16 clusters) fitted on
RouterBench's train split (minilm-static embeddings); requests are test-split prompts drawn at
random. A model's answer to a prompt is graded with RouterBench's recorded 0/1 score; during the
drift window one model's correct answers are turned wrong with probability 0.3 / its accuracy (its
accuracy drops by 30 points). Every request gets its grade back through POST /v1/feedback.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

from polyroute.data import load_dataset
from polyroute.encoders import embed_dataset, make_encoder
from polyroute.gateway_config import GatewaySettings
from polyroute.routers import BaseRouter, make_router, select
from polyroute.server import create_app
from polyroute.testing import FakeUpstream, ServerThread
from polyroute.traffic import SQLiteLogStore, calibrate, frame_from_records, sweep

KEY = "sk-sim"
ENCODER = "minilm-static"
OUT = Path("docs/results")
ONLINE: dict[str, float] = {}


def _prices() -> dict[str, dict[str, float]]:
    path = resources.files("polyroute") / "assets" / "default_gateway.yaml"
    models = yaml.safe_load(path.read_text(encoding="utf-8"))["models"]
    return {m["name"]: m for m in models}


def _settings(
    url: str, names: list[str], log_path: Path, traffic: dict[str, Any]
) -> GatewaySettings:
    prices = _prices()
    models = [
        {
            "name": n,
            "input_cost_per_mtok": prices[n]["input_cost_per_mtok"],
            "output_cost_per_mtok": prices[n]["output_cost_per_mtok"],
            "deployments": [{"name": "fake", "base_url": url}],
        }
        for n in names
    ]
    return GatewaySettings.model_validate(
        {
            "server": {"ephemeral_pool": True, "access_log": False},
            "models": models,
            "profiles": [
                {
                    "name": "auto",
                    "encoder": ENCODER,
                    "cost_weight": 0.3,
                    "cost_weight_range": [0.0, 20.0],
                }
            ],
            "security": {
                "client_keys": [
                    {"name": "sim", "env": "SIM_KEY"},
                    {"name": "capped", "env": "CAPPED_KEY"},
                ]
            },
            "traffic": {
                "log": True,
                "log_path": str(log_path),
                "flush_interval_s": 0.05,
                **traffic,
            },
        }
    )


class Sim:
    def __init__(self, router: BaseRouter, names: list[str], traffic: dict[str, Any]) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="polyroute-traffic-"))
        self.log_path = self.tmp / "decisions.db"
        self.up = FakeUpstream(lambda req: "The answer is 42.")
        self.up.__enter__()
        app = create_app(
            _settings(self.up.base_url, names, self.log_path, traffic),
            environ={"SIM_KEY": KEY, "CAPPED_KEY": "sk-capped"},
            routers={"auto": router},
        )
        self.srv = ServerThread(app)
        self.srv.__enter__()
        self.http = httpx.Client(base_url=self.srv.url + "/v1", timeout=30.0)

    def ask(self, prompt: str, *, key: str = KEY, lam: float | None = None) -> httpx.Response:
        body: dict[str, Any] = {"model": "auto", "messages": [{"role": "user", "content": prompt}]}
        if lam is not None:
            body["polyroute"] = {"cost_weight": lam}
        return self.http.post(
            "/chat/completions", json=body, headers={"authorization": f"Bearer {key}"}
        )

    def feedback(self, rid: str, score: float) -> None:
        r = self.http.post(
            "/feedback",
            json={"request_id": rid, "score": score},
            headers={"authorization": f"Bearer {KEY}"},
        )
        r.raise_for_status()

    def close(self) -> None:
        self.http.close()
        self.srv.__exit__(None, None, None)
        self.up.__exit__(None, None, None)


def drift(
    router: BaseRouter, train_XY: tuple[np.ndarray, np.ndarray], test: Any, X: np.ndarray,
    names: list[str], n: int, rng: Any,
) -> dict[str, Any]:  # fmt: skip
    lam = 0.3
    p = _prices()  # the gateway's routing estimate: prices x 500 prompt / 250 answer tokens
    costs = np.array(
        [
            (p[m]["input_cost_per_mtok"] * 500 + p[m]["output_cost_per_mtok"] * 250) / 1e6
            for m in names
        ]
    )
    base_choice = select(router.predict_scores(X), costs, cost_weight=lam)
    victim = int(np.bincount(base_choice, minlength=len(names)).argmax())
    acc = float(np.nanmean(test.scores[:, victim]))
    flip = min(1.0, 0.3 / acc)
    start, stop = n // 3, 2 * n // 3
    # fair share: per prompt cluster, the model with the best *true* (test) accuracy − λ·relative
    # cost wins the cluster; the victim's share is the traffic of the clusters it wins, with its
    # accuracy as it is before and during the drift
    cells = router.predict_clusters(X)
    correct = (np.nan_to_num(test.scores) > 0).astype(float)
    rel = costs / costs.max()

    def fair(acc_factor: float) -> float:
        share = 0.0
        for c in np.unique(cells):
            acc = correct[cells == c].mean(axis=0)
            acc[victim] *= acc_factor
            if int(np.argmax(acc - lam * rel)) == victim:
                share += float(np.mean(cells == c))
        return share

    fair_before, fair_share = fair(1.0), fair(1.0 - flip)
    before_share = float(np.mean(base_choice == victim))
    sim = Sim(router, names, {"online_profiles": ONLINE})
    chosen = np.empty(n, dtype=np.int64)
    order = rng.integers(0, len(test.prompts), n)
    t0 = time.perf_counter()
    for t, i in enumerate(order):
        r = sim.ask(str(test.prompts[i]))
        r.raise_for_status()
        j = names.index(r.headers["x-polyroute-model"])
        chosen[t] = j
        grade = float(test.scores[i, j] > 0)
        if j == victim and start <= t < stop and grade and rng.random() < flip:
            grade = 0.0
        sim.feedback(r.headers["x-request-id"], grade)
    elapsed = time.perf_counter() - t0
    sim.close()
    is_v = (chosen == victim).astype(float)
    w = 100
    rolling = np.convolve(is_v, np.ones(w) / w, mode="valid")  # share over the last w requests

    def first_within(lo: int, hi: int, target: float) -> int | None:
        for t in range(max(lo, w - 1), hi):
            if abs(rolling[t - w + 1] - target) <= 0.05:
                return t - lo
        return None

    return {
        "victim": names[victim],
        "victim_test_accuracy": acc,
        "flip_probability": flip,
        "cost_weight": lam,
        "n_requests": n,
        "drift_window": [start, stop],
        "share_offline_training_profiles": before_share,
        "fair_share_before_drift": fair_before,
        "fair_share_during_drift": fair_share,
        "share_before": float(is_v[:start].mean()),
        "share_last_third_of_drift": float(is_v[start + (stop - start) * 2 // 3 : stop].mean()),
        "share_after_recovery_last_third": float(is_v[stop + (n - stop) * 2 // 3 :].mean()),
        "feedback_events_to_fair_share": first_within(start, stop, fair_share),
        "feedback_events_to_recover": first_within(stop, n, fair_before),
        "rolling_share": rolling.tolist(),
        "elapsed_s": elapsed,
    }


def calibration(
    router: BaseRouter, test: Any, names: list[str], n: int, rng: Any
) -> dict[str, Any]:
    sim = Sim(router, names, {"online_profiles": {"enabled": False}})
    order = rng.integers(0, len(test.prompts), n)
    half = n // 2
    first_ids = []
    for i in order[:half]:
        r = sim.ask(str(test.prompts[i]), lam=0.0)
        r.raise_for_status()
        first_ids.append(r.headers["x-request-id"])
    time.sleep(0.5)
    store = SQLiteLogStore(sim.log_path)
    frame = frame_from_records(store.records())
    first_cost = float(np.nanmean(frame.actual_cost_usd) * 1000)
    target = first_cost / 3
    points = sweep(
        frame.scores, frame.decision_costs, frame.model_names, charged_costs=frame.charged_costs
    )
    cal = calibrate(points, target_cost_per_1k=target)
    lam = cal.point.cost_weight
    second_ids = set()
    for i in order[half:]:
        r = sim.ask(str(test.prompts[i]), lam=lam)
        r.raise_for_status()
        second_ids.add(r.headers["x-request-id"])
    sim.close()  # flushes the log
    recs = [r for r in SQLiteLogStore(sim.log_path).records() if r.request_id in second_ids]
    actual = float(np.mean([r.cost_usd for r in recs]) * 1000)
    return {
        "n_first_half": half,
        "n_second_half": len(recs),
        "first_half_cost_per_1k_usd_at_lambda_0": first_cost,
        "target_cost_per_1k_usd": target,
        "chosen_cost_weight": lam,
        "predicted_cost_per_1k_usd": cal.point.cost_per_1k_usd,
        "predicted_quality": cal.point.quality,
        "second_half_cost_per_1k_usd": actual,
        "relative_error": actual / target - 1.0,
    }


def budget(router: BaseRouter, test: Any, names: list[str], rng: Any) -> dict[str, Any]:
    limit = 0.05
    sim = Sim(router, names, {"budgets": [{"key": "capped", "limit_usd": limit, "mode": "hard"}]})
    n_ok = n_429 = 0
    for i in rng.integers(0, len(test.prompts), 400):
        r = sim.ask(str(test.prompts[i]), key="sk-capped", lam=0.0)
        if r.status_code == 429:
            assert r.json()["error"]["code"] == "budget_exceeded"
            n_429 += 1
        else:
            r.raise_for_status()
            n_ok += 1
    sim.close()
    spent = sum(
        r.cost_usd or 0.0 for r in SQLiteLogStore(sim.log_path).records() if r.key_id == "capped"
    )
    return {"limit_usd": limit, "admitted": n_ok, "refused_429": n_429, "spent_usd": spent}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-drift", type=int, default=2400)
    ap.add_argument("--n-calib", type=int, default=1600)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--decay", type=float, default=0.95, help="online profiles: decay per outcome")
    ap.add_argument("--forget", type=float, default=0.995, help="online profiles: per event")
    args = ap.parse_args()
    global ONLINE
    ONLINE = {"decay": args.decay, "forget": args.forget}
    rng = np.random.default_rng(0)
    ds = load_dataset("routerbench")
    train, test = ds.split("train"), ds.split("test")
    names = list(ds.model_names)
    Xtr = embed_dataset(train, ENCODER)
    router = make_router("uniroute-kmeans", n_clusters=16, random_state=0)
    router.fit(Xtr, train.scores, model_names=names)
    router.encoder_ = ENCODER
    make_encoder(ENCODER)
    X = embed_dataset(test, ENCODER)
    results = {
        "command": "PYTHONPATH=src python bench/traffic_sim.py " + " ".join(sys.argv[1:]),
        "drift": drift(
            router, (Xtr, train.scores.astype(float)), test, X, names, args.n_drift, rng
        ),
        "calibration": calibration(router, test, names, args.n_calib, rng),
        "budget": budget(router, test, names, rng),
    }
    out = Path(args.out)
    (out / "traffic.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    _plot(results, out / "traffic.png")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "rolling_share"}
                      for k, v in results.items() if isinstance(v, dict)}, indent=1))  # fmt: skip
    return 0


def _plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = results["drift"]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    roll = np.asarray(d["rolling_share"])
    x = np.arange(len(roll)) + 100
    ax[0].plot(x, roll, label=f"share of {d['victim']} (last 100 requests)")
    ax[0].axvspan(*d["drift_window"], color="orange", alpha=0.15, label="accuracy −30 points")
    ax[0].axhline(d["fair_share_during_drift"], color="red", ls="--", label="fair share in drift")
    ax[0].axhline(d["fair_share_before_drift"], color="green", ls=":", label="fair share before")
    ax[0].set_xlabel("request (= feedback event)")
    ax[0].set_ylabel("routing share")
    ax[0].legend(fontsize=7)
    ax[0].set_title("drift")
    c = results["calibration"]
    ax[1].bar(["target", "predicted", "second half"],
              [c["target_cost_per_1k_usd"], c["predicted_cost_per_1k_usd"],
               c["second_half_cost_per_1k_usd"]])  # fmt: skip
    ax[1].set_ylabel("USD per 1,000 requests")
    ax[1].set_title(f"calibration (λ = {c['chosen_cost_weight']:.3g})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
