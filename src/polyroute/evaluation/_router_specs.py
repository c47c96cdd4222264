"""Router specs: several configurations of one router in one run, each under its own label.

Grammar (``--router`` in ``polyroute eval``, items of ``routers`` in :func:`run_suite`)::

    [LABEL=]NAME[:KEY=VALUE[,KEY=VALUE...]]

``NAME`` is a registry name; values are JSON when they parse (``50``, ``[4,8]``, ``true``), else
strings (``multi``). The label defaults to the spec as written, so ``uniroute-kmeans`` and
``uniroute-kmeans:n_clusters=multi`` appear side by side; ``coarse=uniroute-kmeans:n_clusters=4``
names the row ``coarse``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyroute.exceptions import ConfigError

#: A comma that starts the next ``KEY=`` (commas inside JSON values such as ``[4,8]`` stay).
_ITEM_SPLIT = re.compile(r",(?=\s*[A-Za-z_]\w*\s*=)")
_KEY = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class RouterSpec:
    """One router to evaluate: ``label`` in reports, registry ``name``, constructor ``params``."""

    label: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


def parse_router_spec(text: str) -> RouterSpec:
    """``"[LABEL=]NAME[:KEY=VALUE,...]"`` -> :class:`RouterSpec` (see the module docstring).

    Example
    -------
    >>> parse_router_spec("k5=knn:n_neighbors=5")
    RouterSpec(label='k5', name='knn', params={'n_neighbors': 5})
    """
    head, colon, tail = text.strip().partition(":")
    label, eq, name = head.partition("=")
    if not eq:
        label, name = text.strip(), head
    label, name = label.strip(), name.strip()
    if not name or not label:
        raise ConfigError(f"router spec {text!r}: expected [LABEL=]NAME[:KEY=VALUE,...]")
    params: dict[str, Any] = {}
    if colon:
        for item in _ITEM_SPLIT.split(tail):
            key, is_pair, raw = item.partition("=")
            key = key.strip()
            if not is_pair or not _KEY.fullmatch(key):
                raise ConfigError(
                    f"router spec {text!r}: expected KEY=VALUE after ':' (e.g. "
                    f"{name}:n_clusters=multi, or LABEL={name}:KEY=VALUE); found {item!r}"
                )
            if key in params:
                raise ConfigError(f"router spec {text!r}: parameter {key!r} is given twice")
            params[key] = parse_value(raw.strip())
    return RouterSpec(label=label, name=name, params=params)


def parse_value(raw: str) -> Any:
    """JSON when it parses (numbers, lists, true/false/null), else the string itself."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def router_specs(
    specs: Sequence[str | RouterSpec], extra_params: Mapping[str, Mapping[str, Any]] | None = None
) -> list[RouterSpec]:
    """Parse and check ``specs``: known names and parameters, distinct labels.

    ``extra_params`` maps a label to more parameters (``--param LABEL.KEY=VALUE``).
    """
    from polyroute.routers import make_router

    parsed = [s if isinstance(s, RouterSpec) else parse_router_spec(s) for s in specs]
    seen: set[str] = set()
    for spec in parsed:
        if spec.label in seen:
            raise ConfigError(
                f"two routers are labelled {spec.label!r}; give one its own label, e.g. "
                f"--router {spec.name}-2={spec.name}:KEY=VALUE"
            )
        seen.add(spec.label)
    extra = dict(extra_params or {})
    unknown = sorted(set(extra) - seen)
    if unknown:
        raise ConfigError(
            f"--param names router(s) {unknown} that are not evaluated; expected one of: "
            f"{', '.join(s.label for s in parsed)}"
        )
    out = []
    for spec in parsed:
        params = {**spec.params, **extra.get(spec.label, {})}
        allowed = make_router(spec.name).get_params(deep=False)  # unknown names raise here
        bad = sorted(set(params) - set(allowed))
        if bad:
            raise ConfigError(
                f"router {spec.label!r} ({spec.name}) has no parameter(s) {bad}; "
                f"expected some of: {', '.join(sorted(allowed))}"
            )
        out.append(RouterSpec(spec.label, spec.name, params))
    return out
