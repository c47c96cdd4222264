"""Complexity heuristics of a prompt: code content and length buckets."""

from __future__ import annotations

import re

_CODE = re.compile(
    r"```|^\s{4,}\S|\bdef \w+\(|\bclass \w+[:(]|[{};]\s*$|#include|=>|\bfunction\b", re.MULTILINE
)


def has_code(text: str) -> bool:
    """Whether ``text`` looks like it contains source code."""
    return _CODE.search(text[:20000]) is not None


def complexity(text: str) -> str:
    """``"high"`` (code, or > 2,000 chars), ``"low"`` (< 200 chars, no code), else ``"medium"``."""
    if has_code(text) or len(text) > 2000:
        return "high"
    return "low" if len(text) < 200 else "medium"
