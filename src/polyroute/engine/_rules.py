"""Contextual routing rules: language, topic, difficulty, complexity, regex and metadata.

The signals come from :mod:`polyroute.context`: the language from a bundled offline language
identifier, the topic and the learned difficulty from the prompt embedding the learned router
computes anyway. A :class:`Context` computes each signal once, and only when a rule asks for it.
Rules run before the learned choice; the first match wins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.context import (
    DifficultyModel,
    Topic,
    TopicIndex,
    complexity,
    detect_language,
    has_code,
)
from polyroute.exceptions import ConfigError
from polyroute.gateway_config import ContextRule, RoutingProfile

__all__ = ["Context", "Signals", "complexity", "detect_language", "first_match", "has_code"]


@dataclass(frozen=True, slots=True)
class Signals:
    """A profile's embedding-based signals: its topic index and its difficulty model."""

    topics: TopicIndex | None = None
    difficulty: DifficultyModel | None = None

    @staticmethod
    def needs_embedding(profile: RoutingProfile) -> bool:
        """Whether the profile's rules read the embedding (topic or difficulty conditions)."""
        return any(
            r.when.topic is not None
            or r.when.min_difficulty is not None
            or r.when.max_difficulty is not None
            for r in profile.rules
        )

    @classmethod
    def build(
        cls, profile: RoutingProfile, encoder: Any, encoder_name: str, router_dir: Path | None
    ) -> Signals:
        """Embed the profile's topics; load ``difficulty.npz`` next to its router artifact.

        Raises ``ConfigError`` when a rule needs a difficulty model the router does not ship,
        or one made for another encoder's embeddings.
        """
        topics = None
        if profile.topics:
            specs = [Topic(t.name, t.description, t.examples, t.threshold) for t in profile.topics]
            topics = TopicIndex(specs, encoder)
        difficulty = None
        if router_dir is not None and (router_dir / "difficulty.npz").is_file():
            difficulty = DifficultyModel.load(router_dir)
        wanted = any(
            r.when.min_difficulty is not None or r.when.max_difficulty is not None
            for r in profile.rules
        )
        if difficulty is not None and difficulty.encoder != encoder_name:
            if wanted:
                raise ConfigError(
                    f"profile {profile.name!r}: difficulty rules need a difficulty model for "
                    f"{encoder_name!r} embeddings; {router_dir} has one for {difficulty.encoder!r}"
                )
            difficulty = None
        if wanted and difficulty is None:
            raise ConfigError(
                f"profile {profile.name!r}: difficulty rules need difficulty.npz and "
                f"difficulty.json next to the router artifact, found none in {router_dir} "
                "(bench/context_difficulty.py fits one; builtin:default ships one)"
            )
        return cls(topics, difficulty)


class Context:
    """Features of one request that rules test, each computed on first use."""

    def __init__(
        self,
        text: str,
        metadata: Mapping[str, str],
        *,
        embedding: np.ndarray | None = None,
        signals: Signals | None = None,
    ) -> None:
        self.text = text
        self.metadata = metadata
        self.embedding = embedding
        self.signals = signals or Signals()

    @cached_property
    def language(self) -> str:
        return detect_language(self.text)

    @cached_property
    def topic(self) -> str | None:
        if self.signals.topics is None or self.embedding is None:
            return None
        return self.signals.topics.match(self.embedding)[0]

    @cached_property
    def difficulty(self) -> float | None:
        model = self.signals.difficulty
        if model is None or self.embedding is None:
            return None
        return float(model.predict(self.embedding, [self.text])[0])


def make_context(
    text: str,
    metadata: Mapping[str, str],
    *,
    embedding: np.ndarray | None = None,
    signals: Signals | None = None,
) -> Context:
    return Context(text, metadata, embedding=embedding, signals=signals)


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


def rule_matches(rule: ContextRule, ctx: Context) -> bool:
    """Whether every condition of ``rule.when`` holds for ``ctx`` (cheap conditions first)."""
    w = rule.when
    if any(ctx.metadata.get(k) != v for k, v in w.metadata.items()):
        return False
    if w.min_chars is not None and len(ctx.text) < w.min_chars:
        return False
    if w.max_chars is not None and len(ctx.text) > w.max_chars:
        return False
    if w.has_code is not None and has_code(ctx.text) != w.has_code:
        return False
    if w.complexity is not None and complexity(ctx.text) != w.complexity:
        return False
    if w.language is not None and ctx.language not in w.language:
        return False
    if w.topic is not None and ctx.topic != w.topic:
        return False
    if w.min_difficulty is not None or w.max_difficulty is not None:
        d = ctx.difficulty
        if d is None:
            return False
        if w.min_difficulty is not None and d < w.min_difficulty:
            return False
        if w.max_difficulty is not None and d > w.max_difficulty:
            return False
    return w.pattern is None or _compiled(w.pattern).search(ctx.text) is not None


def first_match(rules: Sequence[ContextRule], ctx: Context) -> ContextRule | None:
    """The first rule whose conditions hold, or ``None``."""
    return next((r for r in rules if rule_matches(r, ctx)), None)
