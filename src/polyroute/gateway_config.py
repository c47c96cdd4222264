"""Gateway settings: the YAML schema of ``polyroute serve`` and its loader.

Precedence: CLI overrides > environment ``POLYROUTE_*`` > config file > defaults. This module (with
:mod:`polyroute.config`) is the only place that reads environment variables; the engine and server
receive frozen :class:`GatewaySettings` plus a secret lookup built here.

Environment overrides use ``POLYROUTE_<GROUP>__<FIELD>`` (double underscore between levels), e.g.
``POLYROUTE_SERVER__PORT=9000`` or ``POLYROUTE_SECURITY__MAX_BODY_BYTES=2000000``; values are parsed
as YAML scalars. Provider API keys are never written in the file: a deployment names the environment
variable holding its key (``api_key_env``) and :func:`secret_from_env` reads it as a ``SecretStr``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from polyroute._profile_context import PRIORITIES as PRIORITIES  # re-exported
from polyroute._profile_context import TopicSpec, apply_priority, check_topic_rules
from polyroute.exceptions import ConfigError
from polyroute.traffic._settings import TrafficSettings

ENV_PREFIX = "POLYROUTE_"
BUILTIN_ROUTER = "builtin:default"
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"


class _Frozen(BaseModel):
    # allow_inf_nan=False: JSON has no Infinity/NaN, so a value that parsed as one (Python's json
    # accepts the literals) must be refused, or /v1/models would later emit invalid JSON.
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=True, allow_inf_nan=False
    )


class ConnectionLimits(_Frozen):
    """Connection-level limits of the HTTP server (``server.limits``; docs/gateway.md)."""

    #: Idle time allowed between two requests on a keep-alive connection.
    keep_alive_timeout_s: float = Field(5.0, gt=0)
    #: A request head must be complete this long after the connection opened (or after the
    #: first byte of a later request): idle and slowloris connections are closed.
    header_timeout_s: float = Field(10.0, gt=0)
    #: The body must be complete this long after the head.
    body_timeout_s: float = Field(30.0, gt=0)
    #: Larger request heads (request line + headers) get 431.
    max_header_bytes: int = Field(65536, ge=1024)
    #: Connections or requests in progress beyond which new requests get 503 (keep it under
    #: the process's open-file limit); ``None`` = no limit.
    max_concurrency: int | None = Field(4096, ge=1)
    #: Listen backlog (connections the kernel queues before the server accepts them).
    backlog: int = Field(2048, ge=1)


class ServerSettings(_Frozen):
    """Where and how the HTTP server listens."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64)
    #: Half-life of the per-model latency estimate that ``latency_weight`` reads: an estimate
    #: not refreshed for this long counts half, so a model that was slow is tried again.
    latency_half_life_s: float = Field(30.0, gt=0)
    access_log: bool = True
    #: SQLite file of the live pool; ``None`` = ``<cache dir>/gateway/pool.sqlite3``.
    pool_path: str | None = None
    #: ``":memory:"`` style ephemeral pool (tests, demos) when true.
    ephemeral_pool: bool = False
    #: Prompts waiting for the encoder before new ``auto`` requests are shed with 503.
    max_pending_embeddings: int = Field(64, ge=1)
    #: Shared state for several replicas (``redis://host:6379/0``); ``None`` = in-process.
    state_url: str | None = Field(None, pattern=r"^rediss?://\S+$")
    #: Redis connect timeout, and the most one Redis command may take before the gateway falls
    #: back to per-process state (``state/_redis.py`` documents the policy).
    state_connect_timeout_s: float = Field(0.25, gt=0)
    state_timeout_s: float = Field(0.1, gt=0)
    #: Pool in PostgreSQL, shared by every host (``postgresql://user@host/db``); overrides
    #: ``pool_path`` and ``ephemeral_pool``. Needs the ``[postgres]`` extra.
    database_url: str | None = Field(None, pattern=r"^postgres(ql)?://\S+$")
    #: Upstream HTTP client: "native" (lean keep-alive HTTP/1.1, default) or "httpx".
    upstream_client: Literal["native", "httpx"] = "native"
    limits: ConnectionLimits = ConnectionLimits()


class DeploymentSettings(_Frozen):
    """One OpenAI-compatible endpoint serving a model."""

    name: str = Field(pattern=_NAME)
    base_url: str = Field(pattern=r"^https?://\S+$")
    api_key_env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    weight: float = Field(1.0, gt=0)
    max_concurrency: int | None = Field(None, ge=1)


class ModelSettings(_Frozen):
    """A model in the pool: prices, deployments and the balancer across them."""

    name: str = Field(pattern=_NAME)
    #: Model id sent upstream (default: ``name``).
    upstream_name: str | None = None
    input_cost_per_mtok: float = Field(0.0, ge=0)
    output_cost_per_mtok: float = Field(0.0, ge=0)
    #: Average USD per query used for routing; default from prices x typical token counts.
    cost_per_query_usd: float | None = Field(None, ge=0)
    deployments: tuple[DeploymentSettings, ...] = ()
    balancer: Literal[
        "round-robin",
        "weighted-round-robin",
        "random",
        "least-connections",
        "latency-ewma",
        "consistent-hash",
    ] = "round-robin"
    balancer_params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_balancer_params(self) -> ModelSettings:
        # Checked when the model is written (config or admin API): a bad parameter found only when
        # the engine builds the balancer would fail every request for the model.
        if self.balancer_params:
            from polyroute.balancing._params import check_balancer_params  # lazy: light import

            check_balancer_params(self.balancer, self.balancer_params)
        return self

    @model_validator(mode="after")
    def _unique_deployments(self) -> ModelSettings:
        names = [d.name for d in self.deployments]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"expected unique deployment names, found duplicates {dup}")
        return self

    def routing_cost_usd(self, typical_in: int = 500, typical_out: int = 250) -> float:
        """Estimated USD per query (explicit value or prices x typical token counts)."""
        if self.cost_per_query_usd is not None:
            return self.cost_per_query_usd
        return (
            self.input_cost_per_mtok * typical_in + self.output_cost_per_mtok * typical_out
        ) / 1e6


class RuleMatch(_Frozen):
    """Conditions of a contextual rule; all given conditions must hold."""

    #: ISO 639-1 codes (en, fr, de, zh...) of the prompt's language (``polyroute.context``).
    language: tuple[str, ...] | None = None
    #: Name of one of the profile's ``topics``: the prompt's nearest topic, above its threshold.
    topic: str | None = None
    #: Bounds on the learned difficulty (predicted share of models failing the prompt, 0-1).
    min_difficulty: float | None = Field(None, ge=0.0, le=1.0)
    max_difficulty: float | None = Field(None, ge=0.0, le=1.0)
    #: Regular expression searched (case-insensitive) in the prompt text.
    pattern: str | None = None
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=0)
    has_code: bool | None = None
    #: Complexity bucket from length and code heuristics: "low", "medium", "high".
    complexity: Literal["low", "medium", "high"] | None = None
    #: Exact matches against request metadata (header ``x-polyroute-tag: k=v``, body
    #: ``metadata`` object, or ``user`` under the key ``user``).
    metadata: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_pattern(self) -> RuleMatch:
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(
                    f"expected a valid regular expression, found {self.pattern!r}: {exc}"
                ) from exc
        return self


class ContextRule(_Frozen):
    """If ``when`` matches, send to ``model`` or restrict the learned router to ``candidates``."""

    name: str = Field(pattern=_NAME)
    when: RuleMatch
    model: str | None = None
    candidates: tuple[str, ...] | None = None
    cost_weight: float | None = None

    @model_validator(mode="after")
    def _one_action(self) -> ContextRule:
        if (self.model is None) == (self.candidates is None):
            raise ValueError("expected exactly one of 'model' or 'candidates'")
        return self


class RoutingProfile(_Frozen):
    """A named routing mode clients select with ``model="<name>"``."""

    name: str = Field(pattern=_NAME)
    description: str = ""
    #: "learned": a router artifact picks; "round-robin": static rotation over candidates.
    strategy: Literal["learned", "round-robin"] = "learned"
    #: Router artifact directory, or ``builtin:default`` (the shipped UniRoute artifact).
    router: str = BUILTIN_ROUTER
    router_params: dict[str, Any] = Field(default_factory=dict)
    #: Encoder name; ``None`` = the one the router was fitted with (``router.encoder_``).
    encoder: str | None = None
    #: Keyword arguments of ``make_encoder`` (e.g. ``{num_threads: 1}``).
    encoder_params: dict[str, Any] = Field(default_factory=dict)
    #: Prompt embeddings kept in an LRU cache (0 = off): repeated prompts skip the encoder.
    embedding_cache: int = Field(4096, ge=0)
    #: Named preset for (cost_weight, latency_weight): see ``PRIORITIES``; explicit values win.
    priority: Literal["accuracy", "balanced", "speed", "cost"] | None = None
    cost_weight: float = 0.1
    cost_weight_range: tuple[float, float] = (0.0, 1.0)
    #: μ: quality given up per unit of relative latency (live per-model EWMA; 0 = ignore speed).
    latency_weight: float = Field(0.0, ge=0.0)
    #: Models the profile may choose (default: every pool model the router knows).
    candidates: tuple[str, ...] | None = None
    #: Explicit fallback order; default: remaining candidates by routing utility.
    fallbacks: tuple[str, ...] | None = None
    max_models: int = Field(3, ge=1)
    rules: tuple[ContextRule, ...] = ()
    #: Topics that rules name with ``when: {topic: NAME}`` (matched on the prompt embedding).
    topics: tuple[TopicSpec, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _apply_priority(cls, data: Any) -> Any:
        return apply_priority(data)

    @model_validator(mode="after")
    def _check_range(self) -> RoutingProfile:
        low, high = self.cost_weight_range
        if not low <= self.cost_weight <= high:
            raise ValueError(
                f"expected cost_weight within cost_weight_range [{low}, {high}], "
                f"found {self.cost_weight}"
            )
        return self

    @model_validator(mode="after")
    def _check_topics(self) -> RoutingProfile:
        check_topic_rules(self.topics, self.rules)
        return self


class RetrySettings(_Frozen):
    """Timeouts and retries per model before falling back to the next one."""

    max_attempts: int = Field(2, ge=1, le=10)
    base_delay_s: float = Field(0.05, ge=0)
    max_delay_s: float = Field(2.0, ge=0)
    jitter: float = Field(0.5, ge=0, le=1)
    #: Longest upstream Retry-After the gateway waits for; longer ones fall back at once.
    max_retry_after_s: float = Field(5.0, ge=0)
    timeout_s: float = Field(120.0, gt=0)
    #: Limit of one attempt (non-streaming: until the whole answer); ``None`` = ``timeout_s``.
    attempt_timeout_s: float | None = Field(None, gt=0)
    first_token_timeout_s: float = Field(30.0, gt=0)
    connect_timeout_s: float = Field(5.0, gt=0)


class CircuitSettings(_Frozen):
    """Per-deployment circuit breaker."""

    failure_threshold: int = Field(5, ge=1)
    failure_rate: float = Field(0.5, gt=0, le=1)
    window: int = Field(20, ge=1)
    reset_timeout_s: float = Field(10.0, gt=0)


class ClientKey(_Frozen):
    """A client API key: its sha256 hex digest, or the env var holding the plain key."""

    name: str = Field(pattern=_NAME)
    sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")
    env: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    rate_limit_rps: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> ClientKey:
        if (self.sha256 is None) == (self.env is None):
            raise ValueError("expected exactly one of 'sha256' or 'env'")
        return self


class SecuritySettings(_Frozen):
    """Client auth, admin auth, request limits."""

    #: With no client keys and ``allow_anonymous``, /v1 routes are open (local dev only).
    client_keys: tuple[ClientKey, ...] = ()
    client_keys_env: str = "POLYROUTE_API_KEY"
    allow_anonymous: bool = False
    admin_key_env: str = "POLYROUTE_ADMIN_KEY"
    max_body_bytes: int = Field(1_048_576, ge=1024)
    rate_limit_rps: float | None = Field(None, gt=0)
    rate_limit_burst: int = Field(20, ge=1)
    #: While the shared state store (Redis) is unreachable: "open" lets requests through
    #: unchecked (counted in metrics, one warning a second), "closed" answers 503.
    rate_limit_fallback: Literal["open", "closed"] = "open"


class GatewaySettings(_Frozen):
    """Everything ``polyroute serve`` needs, validated and frozen."""

    server: ServerSettings = ServerSettings()
    models: tuple[ModelSettings, ...] = ()
    profiles: tuple[RoutingProfile, ...] = ()
    #: Profile shown in start-up hints and client snippets (must name a profile when set).
    default_profile: str | None = None
    retry: RetrySettings = RetrySettings()
    circuit: CircuitSettings = CircuitSettings()
    security: SecuritySettings = SecuritySettings()
    #: Decision log, feedback, online profiles, spend and budgets (docs/traffic.md).
    traffic: TrafficSettings = TrafficSettings()

    @model_validator(mode="after")
    def _check_names(self) -> GatewaySettings:
        models = [m.name for m in self.models]
        profiles = [p.name for p in self.profiles]
        for kind, names in (("model", models), ("profile", profiles)):
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise ValueError(f"expected unique {kind} names, found duplicates {dup}")
        clash = sorted(set(models) & set(profiles))
        if clash:
            raise ValueError(f"expected profile names distinct from model names, found {clash}")
        if self.default_profile is not None and self.default_profile not in profiles:
            raise ValueError(
                f"default_profile: expected one of {profiles}, found {self.default_profile!r}"
            )
        for p in self.profiles:
            for field, group in (("candidates", p.candidates), ("fallbacks", p.fallbacks)):
                unknown = sorted(set(group or ()) - set(models))
                if unknown:
                    raise ValueError(
                        f"profile {p.name!r} {field}: expected pool models, found unknown {unknown}"
                    )
        return self

    def model(self, name: str) -> ModelSettings | None:
        return next((m for m in self.models if m.name == name), None)

    def profile(self, name: str) -> RoutingProfile | None:
        return next((p for p in self.profiles if p.name == name), None)


# ---------------------------------------------------------------------- loading
def default_config_path() -> Path:
    """The packaged default config (11 RouterBench models, profile ``auto``)."""
    return Path(str(resources.files("polyroute") / "assets" / "default_gateway.yaml"))


def load_gateway_settings(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> GatewaySettings:
    """Load and validate gateway settings.

    Parameters
    ----------
    path : path-like, optional
        YAML config file; ``None`` uses the packaged default (:func:`default_config_path`).
    overrides : mapping, optional
        Highest-precedence values as dotted keys (``{"server.port": 9000}``), e.g. CLI flags.
    environ : mapping, optional
        Environment to read ``POLYROUTE_*`` overrides from (default ``os.environ``).

    Returns
    -------
    GatewaySettings

    Raises
    ------
    ConfigError
        Unreadable file, bad YAML (with line and column) or invalid values (with the field path,
        what was expected and what was found, and the YAML line where known).
    """
    env = os.environ if environ is None else environ
    file = Path(path) if path is not None else default_config_path()
    raw, lines = _read_yaml(file)
    for dotted, value in _env_overrides(env).items():
        _set_dotted(raw, dotted, value)
    for dotted, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, dotted, value)
    try:
        return GatewaySettings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_format_validation(exc, file, lines)) from None


def secret_from_env(
    name: str | None, *, environ: Mapping[str, str] | None = None
) -> SecretStr | None:
    """The value of environment variable ``name`` as a ``SecretStr`` (``None`` if unset)."""
    if not name:
        return None
    env = os.environ if environ is None else environ
    value = env.get(name)
    return SecretStr(value) if value else None


def env_secret_lookup(
    environ: Mapping[str, str] | None = None,
) -> Callable[[str | None], SecretStr | None]:
    """A ``lookup(env_name) -> SecretStr | None`` bound to ``environ`` (default ``os.environ``)."""
    return lambda name: secret_from_env(name, environ=environ)


def _read_yaml(file: Path) -> tuple[dict[str, Any], dict[tuple[str, ...], int]]:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read gateway config {file}: {exc.strerror or exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{file}:{where}: invalid YAML: {problem}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{file}: expected a mapping at the top level, found {type(raw).__name__}"
        )
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return raw, lines


def _index_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    out[prefix] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*prefix, str(key.value))
            out[child] = key.start_mark.line + 1
            _index_lines(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, (*prefix, str(i)), out)


def _format_validation(exc: ValidationError, file: Path, lines: dict[tuple[str, ...], int]) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        loc = tuple(str(x) for x in err["loc"])
        path = ".".join(loc) or "(top level)"
        line = next((lines[loc[:k]] for k in range(len(loc), -1, -1) if loc[:k] in lines), None)
        where = f"{file}:{line}" if line else str(file)
        found = err.get("input")
        found_text = "" if err["type"] in ("missing", "value_error") else f"; found {_short(found)}"
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {path}: {msg}{found_text}")
    head = f"invalid gateway config ({len(parts)} error{'s' if len(parts) > 1 else ''}): "
    return head + " | ".join(parts)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    skip = {"POLYROUTE_DATA_DIR", "POLYROUTE_CACHE_DIR", "POLYROUTE_API_KEY", "POLYROUTE_ADMIN_KEY"}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key in skip or "__" not in key:
            continue
        dotted = key[len(ENV_PREFIX) :].lower().replace("__", ".")
        try:
            out[dotted] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[dotted] = value
    return out


def _set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node: Any = raw
    for part in parts[:-1]:
        nxt = node.get(part) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            nxt = {}
            node[part] = nxt
        node = nxt
    node[parts[-1]] = value
