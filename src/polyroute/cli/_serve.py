"""``polyroute serve`` (the OpenAI-compatible gateway) and ``polyroute demo``.

::

    polyroute serve [--config FILE] [--host HOST] [--port PORT] [--workers N] [--pool FILE]
    polyroute demo [--requests N] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from polyroute.exceptions import ConfigError, MissingDependencyError
from polyroute.gateway_config import (
    GatewaySettings,
    load_gateway_settings,
    secret_from_env,
)

CONFIG_ENV = "POLYROUTE_GATEWAY_CONFIG"
OVERRIDES_ENV = "POLYROUTE_GATEWAY_OVERRIDES"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve",
        help="run the OpenAI-compatible routing gateway",
        description="Serve /v1/chat/completions, /v1/route and /v1/models. Without --config the "
        "embedded default routes over the 11 RouterBench models with the shipped router; the "
        "live pool is kept in SQLite.",
    )
    serve.add_argument("--config", type=Path, help="gateway YAML (default: the embedded one)")
    serve.add_argument("--host", help="bind address (default from config: 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default from config: 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default from config: 1)")
    serve.add_argument(
        "--pool", help="SQLite pool file (default: <cache dir>/gateway/pool.sqlite3)"
    )
    serve.add_argument("--no-access-log", action="store_true", help="disable JSON access logs")
    serve.set_defaults(func=_cmd_serve)

    demo = subparsers.add_parser(
        "demo",
        help="run gateway + fake upstreams replaying RouterBench answers, show routing",
        description="Start the gateway and local upstreams that replay real RouterBench answers "
        "(one of them failing often), send routed traffic with the openai client, print which "
        "model answered what, and exit.",
    )
    demo.add_argument("--requests", type=int, default=12, help="prompts to send (default 12)")
    demo.add_argument("--data-dir", help="routing data directory")
    demo.add_argument("--config", type=Path, help="gateway YAML (default: the embedded one)")
    demo.set_defaults(func=_cmd_demo)


# ----------------------------------------------------------------------------------- serve
def _cmd_serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn
    except ImportError as exc:
        raise MissingDependencyError("uvicorn", "server") from exc
    from polyroute.server import create_app
    from polyroute.server._protocol import GuardedHttpToolsProtocol, uvicorn_options

    overrides = {
        "server.host": args.host,
        "server.port": args.port,
        "server.workers": args.workers,
        "server.pool_path": args.pool,
        "server.access_log": False if args.no_access_log else None,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    settings = load_gateway_settings(args.config, overrides)
    client_key = _client_key(settings)
    _configure_access_log(settings)
    kw: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "loop": "uvloop",
        "lifespan": "on",
        "access_log": False,
        "log_level": "warning",
        **uvicorn_options(settings.server.limits),  # connection limits (docs/gateway.md)
    }
    if settings.server.workers > 1:
        if not settings.server.state_url:
            print(
                f"polyroute: warning: {settings.server.workers} workers without "
                "server.state_url: each keeps its own circuit breakers, rate-limit buckets and "
                "in-flight counts (a key's rate limit becomes workers x the configured one); "
                "set server.state_url: redis://... to share them",
                file=sys.stderr,
            )
        os.environ[CONFIG_ENV] = str(args.config.resolve()) if args.config else ""
        os.environ[OVERRIDES_ENV] = json.dumps(overrides)
        kw["http"] = f"{GuardedHttpToolsProtocol.__module__}:GuardedHttpToolsProtocol"  # picklable
        _print_banner(settings, None, client_key)
        uvicorn.run(
            "polyroute.cli._serve:app_from_env", factory=True, workers=settings.server.workers, **kw
        )
        return 0
    app = create_app(settings, config_dir=args.config.parent if args.config else None)
    gateway = app.startup()  # load router, open pool now: errors surface as one line
    _print_banner(settings, gateway, client_key)
    uvicorn.run(app, **kw)
    return 0


def app_from_env() -> Any:
    """App factory for multi-worker serving (each worker builds its own engine)."""
    from polyroute.server import create_app
    from polyroute.server._protocol import GuardedHttpToolsProtocol

    config = os.environ.get(CONFIG_ENV) or None
    overrides = json.loads(os.environ.get(OVERRIDES_ENV) or "{}")
    settings = load_gateway_settings(config, overrides)
    # this worker's connection protocol (named by import path: a class cannot be pickled)
    GuardedHttpToolsProtocol.limits = settings.server.limits
    return create_app(settings, config_dir=Path(config).parent if config else None)


def _client_key(settings: GatewaySettings) -> str | None:
    """A generated client key for this run when none is configured (printed once)."""
    sec = settings.security
    if sec.client_keys or sec.allow_anonymous or secret_from_env(sec.client_keys_env):
        return None
    key = "sk-polyroute-" + secrets.token_urlsafe(18)
    os.environ[sec.client_keys_env] = key  # read back through gateway_config by the app
    return key


def _configure_access_log(settings: GatewaySettings) -> None:
    access = logging.getLogger("polyroute.access")
    access.propagate = False
    if settings.server.access_log and not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
        access.setLevel(logging.INFO)


def _print_banner(settings: GatewaySettings, gateway: Any, client_key: str | None) -> None:
    url = f"http://{settings.server.host}:{settings.server.port}"
    profile = settings.default_profile or (
        settings.profiles[0].name if settings.profiles else "MODEL"
    )
    lines = [
        (
            f"polyroute gateway on {url}  (profiles: "
            f"{', '.join(p.name for p in settings.profiles) or 'none'})"
        )
    ]
    served: int | None = sum(bool(m.deployments) for m in settings.models)
    if gateway is not None:
        view = gateway.engine.view()
        served = sum(bool(r.deployments) for r in view.routes.values())
        lines.append(
            f"pool: {gateway.pool.path} (version {view.snapshot.version}, "
            f"{len(view.routes)} models, {served} with endpoints)"
        )
    key_hint = client_key or f"${settings.security.client_keys_env}"
    if client_key:
        lines.append(
            f"client key for this run: {client_key}  (set "
            f"{settings.security.client_keys_env} or security.client_keys to fix one)"
        )
    if served == 0:
        first = settings.models[0].name if settings.models else "MODEL"
        lines += [
            "No model has an endpoint yet: POST /v1/route answers, chat completions get 503.",
            "Add endpoints in a config file (polyroute serve --config gateway.yaml):",
            "  models: [{name: " + first + ", deployments: [{name: openai, base_url: "
            "https://api.openai.com/v1, api_key_env: OPENAI_API_KEY}]}]",
            "or live, with the admin key ($" + settings.security.admin_key_env + "):",
            (
                f"  curl -X POST {url}/admin/models/{first.replace('/', '%2F')}/deployments "
                f'-H "Authorization: Bearer ${settings.security.admin_key_env}" '
                '-d \'{"name": "openai", "base_url": "https://api.openai.com/v1", '
                '"api_key_env": "OPENAI_API_KEY"}\''
            ),
        ]
    lines += [
        "OpenAI client:",
        "  from openai import OpenAI",
        f'  client = OpenAI(base_url="{url}/v1", api_key="{key_hint}")',
        (
            f'  r = client.chat.completions.with_raw_response.create(model="{profile}", '
            'messages=[{"role": "user", "content": "Hello"}])'
        ),
        '  print(r.headers["x-polyroute-model"], r.parse().choices[0].message.content)',
    ]
    print("\n".join(lines), flush=True)


# ------------------------------------------------------------------------------------ demo
_DEMO_KEY_ENV = "POLYROUTE_DEMO_KEY"


def _cmd_demo(args: argparse.Namespace) -> int:
    if args.requests < 1:
        raise ConfigError(f"--requests: expected a positive integer, found {args.requests}")
    import numpy as np

    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError("openai (the demo's client)", "eval") from exc

    from polyroute.data import load_dataset
    from polyroute.testing import FakeUpstream, FaultConfig, ServerThread, replay_responder

    for noisy in ("httpx", "httpx2", "polyroute.engine._view", "polyroute.server._app"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    ds = load_dataset("routerbench", data_dir=args.data_dir)
    respond = replay_responder("routerbench", data_dir=args.data_dir)
    flaky = FaultConfig(error_rates={500: 0.25}, drop_connection_rate=0.1, seed=1)
    names = list(ds.model_names)
    with (
        FakeUpstream(respond, model_names=names) as good,
        FakeUpstream(respond, model_names=names, faults=flaky) as bad,
    ):
        settings = _demo_settings(load_gateway_settings(args.config), good.base_url, bad.base_url)
        from polyroute.server import create_app

        key = "sk-demo-" + secrets.token_urlsafe(12)
        app = create_app(settings, environ={_DEMO_KEY_ENV: key})
        print("starting the gateway (loading the router and the encoder) ...", flush=True)
        app.startup()  # a missing router artifact is reported here, in one line
        with ServerThread(app) as srv:
            client = openai.OpenAI(base_url=srv.url + "/v1", api_key=key, max_retries=0)
            rng = np.random.default_rng(0)
            rows = rng.choice(
                ds.splits["test"], size=min(args.requests, len(ds.splits["test"])), replace=False
            )
            table = [
                _demo_call(client, ds, int(i), (0.0, 0.1, 0.5)[k % 3]) for k, i in enumerate(rows)
            ]
            failures = bad.stats["status_500"] + bad.stats["drop"]
    _print_demo(table, names, ds, rows, failures)
    return 0


def _demo_settings(base: GatewaySettings, good_url: str, bad_url: str) -> GatewaySettings:
    """Every model gets a healthy deployment and a flaky one (weighted towards the healthy)."""
    data = base.model_dump(mode="python")
    for model in data["models"]:
        model["deployments"] = [
            {"name": "local-a", "base_url": good_url, "weight": 2.0},
            {"name": "local-flaky", "base_url": bad_url, "weight": 1.0},
        ]
        model["balancer"] = "weighted-round-robin"
    data["server"] = {**data["server"], "ephemeral_pool": True, "access_log": False}
    data["security"] = {**data["security"], "client_keys": [{"name": "demo", "env": _DEMO_KEY_ENV}]}
    data["retry"] = {**data["retry"], "base_delay_s": 0.01}
    return GatewaySettings.model_validate(data)


def _demo_call(client: Any, ds: Any, i: int, lam: float) -> dict[str, Any]:
    import openai

    try:
        raw = client.chat.completions.with_raw_response.create(
            model="auto",
            messages=[{"role": "user", "content": ds.prompts[i]}],
            extra_body={"polyroute": {"cost_weight": lam}},
        )
    except openai.APIError as exc:  # shown in the table: the demo is about what happened
        return {
            "row": i,
            "task": str(ds.tasks[i]),
            "lambda": lam,
            "model": None,
            "deployment": "-",
            "answer": f"error: {exc}"[:60],
        }
    answer = raw.parse().choices[0].message.content or ""
    return {
        "row": i,
        "task": str(ds.tasks[i]),
        "lambda": lam,
        "model": raw.headers["x-polyroute-model"],
        "deployment": raw.headers["x-polyroute-deployment"],
        "answer": " ".join(answer.split())[:28],
    }


def _print_demo(
    table: list[dict[str, Any]], names: list[str], ds: Any, rows: Any, upstream_failures: int
) -> None:
    costs = ds.cost_matrix() if hasattr(ds, "cost_matrix") else None
    print(f"\n{'task':<14} {'λ':>4}  {'model':<34} {'deployment':<12} {'ok':<3} answer")
    total_ok = total_cost = 0.0
    for row in table:
        if row["model"] is None:
            print(
                f"{row['task']:<14} {row['lambda']:>4g}  {'-':<34} {'-':<12} {'-':<3} "
                f"{row['answer']}"
            )
            continue
        j = names.index(row["model"])
        score = ds.scores[row["row"], j]
        ok = "yes" if score > 0 else "no"
        total_ok += float(score > 0)
        if costs is not None:
            total_cost += float(costs[row["row"], j])
        print(
            f"{row['task']:<14} {row['lambda']:>4g}  {row['model']:<34} "
            f"{row['deployment']:<12} {ok:<3} {row['answer']}"
        )
    n = len(table)
    best = names.index("gpt-4-1106-preview")
    gpt4_ok = float((ds.scores[rows, best] > 0).sum())
    line = f"\nrouted: {total_ok:.0f}/{n} correct"
    if costs is not None:
        line += (
            f", ${total_cost:.4f}  |  always gpt-4-1106-preview: {gpt4_ok:.0f}/{n}, "
            f"${float(costs[rows, best].sum()):.4f}"
        )
    print(line)
    failed = sum(row["model"] is None for row in table)
    outcome = (
        "every request above got an answer"
        if not failed
        else f"{failed} request(s) still failed after retries and fallback"
    )
    print(
        f"the flaky upstream failed {upstream_failures} call(s); retries, fallback and the "
        f"weighted balancer absorbed them ({outcome})."
    )
