"""The one way request bodies become JSON: strict UTF-8, bounded nesting, valid Unicode strings.

Every JSON body the gateway reads (public and admin API) goes through :func:`parse_json_body`,
so that no body can reach the engine in a form that later code cannot handle:

- **strict UTF-8**: invalid bytes, and surrogates encoded in UTF-8 (CESU-8), are rejected
  (``json.loads`` on bytes would accept the latter through ``surrogatepass``);
- **nesting** deeper than ``max_depth`` is rejected. ``json.loads`` itself stops at the
  interpreter's recursion limit with ``RecursionError`` (deep input); what it parsed is then
  measured (only when the body holds more brackets than ``max_depth``, else it cannot be that
  deep), so later recursive code (encoding, validation) never meets a deep document;
- **lone surrogates**: a ``\\ud800`` escape without its pair parses into a ``str`` that cannot
  be encoded as UTF-8 (the upstream call, the encoder and the logs would fail on it later).

Each failure is an :class:`~polyroute.exceptions.InvalidRequestError` (400) saying what was
expected and what was found, and where.
"""

from __future__ import annotations

import json
import re
from typing import Any

from polyroute.exceptions import InvalidRequestError

#: Default nesting limit: OpenAI bodies nest about 6 levels; tool schemas add a few dozen at most.
MAX_JSON_DEPTH = 64
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_json_body(raw: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``raw`` parsed as JSON, or :class:`InvalidRequestError` (see the module docstring)."""
    if not raw.strip():
        raise InvalidRequestError("empty request body: expected a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequestError(
            f"request body is not valid UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} "
            f"({exc.reason}); expected UTF-8 JSON"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"malformed JSON body: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise _too_deep(max_depth, parsed=False) from None
    # fewer brackets than the limit: it cannot be that deep (the common case costs two counts)
    brackets = text.count("[") + text.count("{")
    if brackets > max_depth and json_depth(data, max_depth) > max_depth:
        raise _too_deep(max_depth, parsed=True)
    if "\\u" in text and _SURROGATE_ESCAPE.search(text):
        _check_strings(data, "")
    return data


def json_depth(value: Any, limit: int | None = None) -> int:
    """Nesting depth of a parsed JSON value (arrays and objects count; scalars are 0).

    Iterative, over containers only; with ``limit``, stops at the first level beyond it.
    """
    if not isinstance(value, dict | list):
        return 0
    deepest, stack = 1, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if limit is not None and depth > limit:
                break
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return deepest


def _too_deep(limit: int, parsed: bool) -> InvalidRequestError:
    found = "more" if parsed else "more than the JSON parser's recursion limit"
    return InvalidRequestError(
        f"JSON body nested too deeply: expected at most {limit} levels of arrays/objects, "
        f"found {found}"
    )


def _check_strings(value: Any, where: str) -> None:
    """Raise on the first string (key or value) holding a lone UTF-16 surrogate."""
    if isinstance(value, str):
        found = _SURROGATE.search(value)
        if found:
            raise InvalidRequestError(
                f"{_path(where)}: string holds a lone UTF-16 surrogate "
                f"(\\u{ord(found.group()):04x}); expected valid Unicode (an astral character is "
                "escaped as a high and a low surrogate together)"
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, where)
            _check_strings(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{where}[{i}]")


def _path(where: str) -> str:
    return f"'{where}'" if where else "body"
