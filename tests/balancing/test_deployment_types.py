"""Deployment: a frozen value type that rejects bad fields with precise errors."""

from __future__ import annotations

import dataclasses

import pytest

from polyroute._types import Deployment
from polyroute.exceptions import ConfigError


def test_deployment_is_frozen_slotted_and_hashable() -> None:
    dep = Deployment(
        "eu-1",
        "gpt-4o",
        "https://eu.example.com/v1",
        api_key_env="EU_KEY",
        weight=2.0,
        max_concurrency=8,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        dep.weight = 3.0  # type: ignore[misc]
    assert not hasattr(dep, "__dict__")
    assert {dep: 1}[Deployment("eu-1", "gpt-4o", "https://eu.example.com/v1", "EU_KEY", 2.0, 8)]
    assert dep.key == "gpt-4o/eu-1"
    assert Deployment("d", "m", "http://x/v1").weight == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"weight": 0}, "weight: expected a finite number > 0, found 0"),
        ({"weight": float("nan")}, "weight: expected a finite number > 0, found nan"),
        ({"max_concurrency": 0}, "max_concurrency: expected an integer >= 1 or null, found 0"),
        ({"max_concurrency": 2.5}, "max_concurrency: expected an integer >= 1 or null, found 2.5"),
        ({"name": ""}, "deployment name: expected a non-empty string"),
    ],
)
def test_deployment_rejects_bad_fields(kwargs: dict[str, object], match: str) -> None:
    fields: dict[str, object] = {"name": "d", "model": "m", "base_url": "http://x/v1"}
    with pytest.raises(ConfigError, match=match):
        Deployment(**{**fields, **kwargs})  # type: ignore[arg-type]
