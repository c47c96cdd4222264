"""Gateway settings: the shipped default, precedence, and precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyroute.exceptions import ConfigError
from polyroute.gateway_config import load_gateway_settings, secret_from_env


def test_default_config_routes_over_the_eleven_routerbench_models() -> None:
    s = load_gateway_settings(environ={})
    auto = s.profile("auto")
    assert auto is not None and auto.router == "builtin:default"
    assert len(s.models) == 11 and all(not m.deployments for m in s.models)
    gpt4 = s.model("gpt-4-1106-preview")
    assert gpt4 is not None and gpt4.routing_cost_usd() == pytest.approx(0.0050379)


def test_precedence_is_cli_then_env_then_file(tmp_path: Path) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text("server: {port: 8100, workers: 2}\nretry: {max_attempts: 4}\n")
    env = {"POLYROUTE_SERVER__PORT": "8200", "POLYROUTE_RETRY__MAX_ATTEMPTS": "5"}
    s = load_gateway_settings(cfg, {"server.port": 8300}, environ=env)
    assert (s.server.port, s.server.workers, s.retry.max_attempts) == (8300, 2, 5)
    assert load_gateway_settings(cfg, environ={}).server.port == 8100
    assert (
        load_gateway_settings(tmp_path / "g.yaml", {"server.port": None}, environ=env).server.port
        == 8200
    )


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (
            "server:\n  port: 70000\n",
            ["g.yaml:2", "server.port", "less than or equal to 65535", "found 70000"],
        ),
        (
            "models:\n  - name: a\n    deployments:\n      - {name: d, base_url: ftp://x}\n",
            ["g.yaml:4", "models.0.deployments.0.base_url", "found 'ftp://x'"],
        ),
        (
            "profiles:\n  - {name: auto, cost_weight: 3}\n",
            ["profiles.0", "cost_weight_range [0.0, 1.0], found 3.0"],
        ),
        ("profiles:\n  - {name: p, candidates: [ghost]}\n", ["found unknown ['ghost']"]),
        ("server:\n  prot: 1\n", ["server.prot", "Extra inputs are not permitted"]),
        ("server: [1\n", ["line 2", "invalid YAML"]),
        ("- 1\n", ["expected a mapping at the top level, found list"]),
        ("models:\n  - {name: a}\n  - {name: a}\n", ["unique model names", "['a']"]),
    ],
)
def test_errors_name_file_line_field_expected_and_found(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_gateway_settings(cfg, environ={})
    for fragment in fragments:
        assert fragment in str(info.value)


def test_missing_file_and_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read gateway config .*nope.yaml"):
        load_gateway_settings(tmp_path / "nope.yaml", environ={})
    secret = secret_from_env("MY_KEY", environ={"MY_KEY": "sk-live-123"})
    assert secret is not None and "sk-live-123" not in repr(secret)
    assert secret.get_secret_value() == "sk-live-123"
    assert secret_from_env("UNSET", environ={}) is None


def test_bad_balancer_params_in_the_config_file_name_the_line_and_the_keys(tmp_path: Path) -> None:
    cfg = tmp_path / "g.yaml"
    cfg.write_text(
        "models:\n"
        "  - name: m1\n"
        "    balancer: latency-ewma\n"
        "    balancer_params: {alpha: 0.2, bogus: 1}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_gateway_settings(cfg, environ={})
    msg = str(err.value)
    assert "g.yaml:2" in msg and "bogus" in msg and "'alpha'" in msg, msg
