"""``polyroute onboard``: add a model to a fitted UniRoute router, remove one, show profiles.

::

    polyroute onboard --router-dir DIR --name MODEL
        (--outcomes FILE | --base-url URL [--api-key-env VAR] [--model-id ID])
        [--validation DATASET[:SPLIT] | --validation-file FILE] [--n-prompts N]
        [--cost-per-query X | --cost-per-1k-input X --cost-per-1k-output Y]
        [--concurrency N] [--max-attempts N] [--cache FILE] [--replace] [--json]
    polyroute onboard remove --router-dir DIR --name MODEL
    polyroute onboard show --router-dir DIR [--name MODEL] [--json]

The validation prompts default to the router directory's own ``validation.jsonl.gz``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import tempfile
from pathlib import Path
from typing import Any

from polyroute.exceptions import ConfigError, DataError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "onboard",
        help="add a model to a fitted UniRoute router (no retraining)",
        description="Profile a new model on the router's validation prompts, from a file of "
        "graded outcomes or by querying its OpenAI-compatible endpoint, and add it to the router.",
    )
    _router_args(parser, required=False)
    src = parser.add_argument_group("where the graded outcomes come from (one of)")
    src.add_argument("--outcomes", help="JSONL file: prompt_id, model, correct|score[, answer]")
    src.add_argument("--base-url", help="OpenAI-compatible endpoint, e.g. http://host:8000/v1")
    src.add_argument("--api-key-env", help="environment variable holding the endpoint's API key")
    src.add_argument("--model-id", help="model id sent to the endpoint (default: --name)")
    val = parser.add_argument_group("validation prompts (default: DIR/validation.jsonl.gz)")
    val.add_argument(
        "--validation",
        metavar="DATASET[:SPLIT]",
        help="named dataset with reference answers (mmlu-pro, routerbench)",
    )
    val.add_argument("--validation-file", help="JSONL: prompt_id, prompt, reference[, grader]")
    val.add_argument("--n-prompts", type=int, help="use a seeded sample of N validation prompts")
    val.add_argument("--data-dir", help="routing data directory (for --validation)")
    cost = parser.add_argument_group("cost (part of the profile)")
    cost.add_argument("--cost-per-query", type=float, help="cost of one query")
    cost.add_argument("--cost-per-1k-input", type=float, help="price per 1k prompt tokens")
    cost.add_argument("--cost-per-1k-output", type=float, help="price per 1k output tokens")
    run = parser.add_argument_group("endpoint runs")
    run.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    run.add_argument("--max-attempts", type=int, default=4, help="attempts per prompt (default 4)")
    run.add_argument("--timeout-s", type=float, default=60.0, help="per-request timeout")
    run.add_argument("--max-tokens", type=int, default=512, help="max_tokens per answer")
    run.add_argument("--cache", help="SQLite outcome cache (default: DIR/onboarding.sqlite)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--replace", action="store_true", help="re-profile an existing model")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(func=_cmd_add)
    sub = parser.add_subparsers(dest="onboard_command", metavar="SUBCOMMAND")
    rm = sub.add_parser("remove", help="remove a model from the router (immediate)")
    _router_args(rm, required=True)
    rm.set_defaults(func=_cmd_remove)
    show = sub.add_parser("show", help="profile summaries of the router's models")
    show.add_argument("--router-dir", required=True, help="fitted router directory")
    show.add_argument("--name", help="only this model")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=_cmd_show)


def _router_args(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--router-dir", required=required, help="fitted router directory")
    parser.add_argument("--name", required=required, help="model name in the router")


# ---------------------------------------------------------------------------------- helpers
def _load(router_dir: str) -> Any:
    from polyroute.routers import load_router

    router = load_router(router_dir)
    if not getattr(router, "supports_new_models", False):
        raise DataError(
            f"router in {router_dir} ({type(router).__name__}) cannot take new models; "
            "expected a uniroute-kmeans or uniroute-learnedmap router"
        )
    return router


def save_atomic(router: Any, router_dir: str | Path) -> None:
    """Save into a temporary sibling folder, then move the files in (no half-written router)."""
    target = Path(router_dir)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".onboard-") as tmp:
        router.save(tmp)
        for name in ("router.json", "arrays.npz"):
            Path(tmp, name).replace(target / name)


def _validation_items(args: argparse.Namespace) -> list[Any]:
    from polyroute.onboarding import read_validation_set
    from polyroute.onboarding._validation import VALIDATION_FILE, dataset_validation_set

    if args.validation and args.validation_file:
        raise ConfigError("expected one of --validation and --validation-file; found both")
    if args.validation:
        name, _, split = args.validation.partition(":")
        return dataset_validation_set(
            name, split=split or None, n_prompts=args.n_prompts, data_dir=args.data_dir
        )
    path = Path(args.validation_file or Path(args.router_dir) / VALIDATION_FILE)
    if not path.is_file():
        raise ConfigError(
            f"no validation prompts: {path} does not exist; expected "
            "--validation DATASET[:SPLIT] or --validation-file FILE"
        )
    items = read_validation_set(path)
    return items[: args.n_prompts] if args.n_prompts else items


def _embed(router: Any, texts: list[str]) -> Any:
    from polyroute.encoders import encode_cached, make_encoder

    name = getattr(router, "encoder_", None)
    if not name:
        raise DataError(
            "the router records no encoder (encoder_); expected a router fitted with "
            "'polyroute fit' so prompts can be embedded consistently"
        )
    return encode_cached(make_encoder(str(name)), texts)


def _cost(args: argparse.Namespace) -> Any:
    from polyroute.onboarding import ModelCost

    return ModelCost(
        per_query=args.cost_per_query,
        per_1k_input_tokens=args.cost_per_1k_input,
        per_1k_output_tokens=args.cost_per_1k_output,
    )


def _print(summary: dict[str, Any], as_json: bool) -> None:
    from polyroute.onboarding import format_summary

    print(json.dumps(summary, indent=2) if as_json else format_summary(summary))


# ---------------------------------------------------------------------------------- commands
def _cmd_add(args: argparse.Namespace) -> int:
    from polyroute.onboarding import (
        EndpointConfig,
        OutcomeCache,
        onboard_endpoint,
        onboard_model,
        read_outcomes,
    )

    if not args.router_dir or not args.name:
        raise ConfigError("expected --router-dir DIR and --name MODEL")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one log line per prompt
    if bool(args.outcomes) == bool(args.base_url):
        raise ConfigError("expected exactly one of --outcomes FILE and --base-url URL")
    router = _load(args.router_dir)
    items = _validation_items(args)
    X_val = _embed(router, [it.prompt for it in items])
    cost = _cost(args)
    if args.outcomes:
        per_query = cost.per_query_cost(
            mean_prompt_chars=sum(len(it.prompt) for it in items) / max(len(items), 1),
            mean_output_tokens=256.0,
        )
        summary = onboard_model(
            router,
            args.name,
            X_val,
            read_outcomes(args.outcomes),
            prompt_ids=[it.prompt_id for it in items],
            cost=None if math.isnan(per_query) else per_query,
            replace=args.replace,
        )
    else:
        from polyroute.gateway_config import secret_from_env

        key = secret_from_env(args.api_key_env)
        if args.api_key_env and key is None:
            raise ConfigError(
                f"environment variable {args.api_key_env} is not set; expected the "
                "endpoint's API key there"
            )
        endpoint = EndpointConfig(
            args.base_url,
            args.model_id or args.name,
            key.get_secret_value() if key else None,
            timeout_s=args.timeout_s,
            max_tokens=args.max_tokens,
        )
        cache_path = Path(args.cache or Path(args.router_dir) / "onboarding.sqlite")
        with OutcomeCache(cache_path) as cache:
            summary, report = onboard_endpoint(
                router,
                args.name,
                items,
                X_val,
                endpoint,
                cost=cost,
                cache=cache,
                replace=args.replace,
                concurrency=args.concurrency,
                max_attempts=args.max_attempts,
                progress=not args.no_progress,
            )
        if not args.json:
            print(report.describe())
    save_atomic(router, args.router_dir)
    _print(summary, args.json)
    return 0


def _cmd_remove(args: argparse.Namespace) -> int:
    router = _load(args.router_dir)
    router.remove_models([args.name])
    save_atomic(router, args.router_dir)
    print(
        f"removed {args.name}; {len(router.model_names_)} models left: "
        f"{', '.join(router.model_names_)}"
    )
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    router = _load(args.router_dir)
    names = [args.name] if args.name else list(router.model_names_)
    summaries = [router.profile_summary(n) for n in names]
    if args.json:
        print(json.dumps(summaries, indent=2))
    else:
        print("\n\n".join(_fmt(s) for s in summaries))
    return 0


def _fmt(summary: dict[str, Any]) -> str:
    from polyroute.onboarding import format_summary

    return format_summary(summary)
