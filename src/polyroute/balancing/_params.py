"""Checks of a model's ``balancer_params`` against the chosen balancer's constructor.

Run when a model is written (config file or admin API): a bad parameter found only when the engine
builds the balancer would fail every request for that model.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from polyroute.balancing._registry import balancer_class
from polyroute.exceptions import ConfigError

#: Balancer arguments the engine supplies itself; they are not settings.
_INJECTED_BALANCER_ARGS = frozenset({"store", "rng", "clock"})


def _keyword_defaults(cls: type) -> dict[str, Any]:
    """Keyword arguments ``cls(...)`` accepts -> default, following ``**kw`` up the MRO."""
    found: dict[str, Any] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = list(inspect.signature(init).parameters.values())[1:]  # drop self
        for p in params:
            if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
                found.setdefault(p.name, p.default)
        if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
            break
    return found


def _type_problem(default: Any, value: Any) -> str | None:
    """What a scalar default says ``value`` should be, when it is not that; else ``None``."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "true or false"
    if isinstance(default, int | float):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            return "a finite number"
        if isinstance(default, int) and not isinstance(value, int):
            return "an integer"
        return None
    if isinstance(default, str):
        return None if isinstance(value, str) else "a string"
    return None


def check_balancer_params(balancer: str, params: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` unless ``balancer`` can be built with ``params``.

    Unknown keys, the arguments the engine injects, values of the wrong type and values the
    balancer's constructor refuses are all errors that say what was expected and what was found.
    """
    cls = balancer_class(balancer)
    defaults = {k: v for k, v in _keyword_defaults(cls).items() if k not in _INJECTED_BALANCER_ARGS}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        keys = f"keys among {sorted(defaults)}" if defaults else "none (it takes no parameters)"
        raise ValueError(
            f"balancer_params of {balancer!r}: expected {keys}, found unknown {unknown}"
        )
    for key, value in params.items():
        expected = _type_problem(defaults[key], value)
        if expected is not None:
            raise ValueError(
                f"balancer_params.{key} of {balancer!r}: expected {expected}, found {value!r}"
            )
    try:
        cls(**params)
    except (TypeError, ValueError, ArithmeticError, ConfigError) as exc:
        raise ValueError(f"balancer_params of {balancer!r}: {exc}") from None
