"""Contextual routing rules: language (by script), topic (regex), complexity, metadata.

Heuristics, not models: the language is the dominant Unicode script of the text (Latin -> ``en``,
Han -> ``zh``, Kana -> ``ja``, Hangul -> ``ko``, Cyrillic -> ``ru``, Arabic -> ``ar``,
Devanagari -> ``hi``, Greek -> ``el``, Hebrew -> ``he``, Thai -> ``th``); complexity is a bucket of
length and code content. Rules run before the learned router; the first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from polyroute.gateway_config import ContextRule

_SCRIPTS: tuple[tuple[str, int, int], ...] = (
    ("ja", 0x3040, 0x30FF),  # Hiragana + Katakana: checked before Han (Japanese uses both)
    ("ko", 0xAC00, 0xD7AF),
    ("ko", 0x1100, 0x11FF),
    ("zh", 0x4E00, 0x9FFF),
    ("zh", 0x3400, 0x4DBF),
    ("ru", 0x0400, 0x04FF),
    ("ar", 0x0600, 0x06FF),
    ("hi", 0x0900, 0x097F),
    ("el", 0x0370, 0x03FF),
    ("he", 0x0590, 0x05FF),
    ("th", 0x0E00, 0x0E7F),
)
_CODE = re.compile(
    r"```|^\s{4,}\S|\bdef \w+\(|\bclass \w+[:(]|[{};]\s*$|#include|=>|\bfunction\b", re.MULTILINE
)
_SAMPLE = 2000


def detect_language(text: str) -> str:
    """Dominant script of ``text`` as a language code (``"en"`` for Latin or no letters)."""
    counts: dict[str, int] = {}
    latin = 0
    for ch in text[:_SAMPLE]:
        o = ord(ch)
        if o < 0x0250:
            latin += ch.isalpha()
            continue
        for lang, lo, hi in _SCRIPTS:
            if lo <= o <= hi:
                counts[lang] = counts.get(lang, 0) + 1
                break
    if not counts:
        return "en"
    lang, n = max(counts.items(), key=lambda kv: kv[1])
    if "ja" in counts and lang == "zh":
        lang = "ja"  # kana anywhere means Japanese, even when Han characters dominate
    return lang if n * 2 >= latin or n >= 20 else "en"


def has_code(text: str) -> bool:
    """Whether ``text`` looks like it contains source code."""
    return _CODE.search(text[:20000]) is not None


def complexity(text: str) -> str:
    """``"low"`` (< 200 chars, no code), ``"high"`` (> 2,000 chars or code), else ``"medium"``."""
    code = has_code(text)
    if len(text) > 2000 or (code and len(text) > 200):
        return "high"
    if len(text) < 200 and not code:
        return "low"
    return "medium"


@dataclass(frozen=True, slots=True)
class Context:
    """Features of one request that rules test."""

    text: str
    language: str
    metadata: Mapping[str, str]


def make_context(text: str, metadata: Mapping[str, str]) -> Context:
    return Context(text, detect_language(text), metadata)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def rule_matches(rule: ContextRule, ctx: Context) -> bool:
    """Whether every condition of ``rule.when`` holds for ``ctx``."""
    w = rule.when
    if w.language is not None and ctx.language not in w.language:
        return False
    if w.min_chars is not None and len(ctx.text) < w.min_chars:
        return False
    if w.max_chars is not None and len(ctx.text) > w.max_chars:
        return False
    if w.has_code is not None and has_code(ctx.text) != w.has_code:
        return False
    if w.complexity is not None and complexity(ctx.text) != w.complexity:
        return False
    if any(ctx.metadata.get(k) != v for k, v in w.metadata.items()):
        return False
    return w.pattern is None or _compiled(w.pattern).search(ctx.text) is not None


def first_match(rules: Sequence[ContextRule], ctx: Context) -> ContextRule | None:
    """The first rule whose conditions hold, or ``None``."""
    return next((r for r in rules if rule_matches(r, ctx)), None)
