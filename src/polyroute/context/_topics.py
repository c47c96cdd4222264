"""Topics named by a plain-language description (and optionally a few example prompts).

A topic is one unit vector in the router's embedding space: the normalised mean of the embedding
of its description and of its examples' embeddings (the description weighs as much as all the
examples together, so a description alone and a description with examples are one recipe). A
prompt's score for a topic is the cosine similarity of its embedding to that vector, after both
are centred on the mean of the topics' vectors (what every topic shares says nothing about which
one a prompt is about). The prompt's topic is the best-scoring one, when that score reaches the
topic's threshold.

It uses the embedding the learned router computes anyway, so a topic costs one dot product per
request. Measured on MMLU-Pro's 14 categories in ``bench/context_topics.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from polyroute.exceptions import ConfigError

Array = np.ndarray


@dataclass(frozen=True, slots=True)
class Topic:
    """A topic: ``name``, a plain-language ``description``, optional ``examples`` prompts."""

    name: str
    description: str
    examples: tuple[str, ...] = ()
    threshold: float = 0.0


def _unit(X: Array) -> Array:
    norms = np.linalg.norm(X, axis=-1, keepdims=True)
    return np.asarray(X / np.maximum(norms, 1e-12), dtype=np.float32)


class TopicIndex:
    """Topic vectors of a set of :class:`Topic` under one encoder.

    Parameters
    ----------
    topics : sequence of Topic
        At least one; names must be unique.
    encoder : object with ``encode(list[str]) -> array (n, d)``
        The encoder the router embeds prompts with (so request embeddings can be reused).

    Raises
    ------
    ConfigError
        No topics, a duplicate name, or an empty description.
    """

    def __init__(self, topics: Sequence[Topic], encoder: Any) -> None:
        names = [t.name for t in topics]
        if not names:
            raise ConfigError("expected at least one topic, found none")
        if len(set(names)) != len(names):
            raise ConfigError(f"expected unique topic names, found {names}")
        for t in topics:
            if not t.description.strip():
                raise ConfigError(f"topic {t.name!r}: expected a description, found an empty one")
        self.topics = tuple(topics)
        self.names = tuple(names)
        self.thresholds = np.array([t.threshold for t in topics], dtype=np.float32)
        vectors = [self._topic_vector(t, encoder) for t in topics]
        raw = _unit(np.stack(vectors))
        self.center = raw.mean(axis=0) if len(raw) > 1 else np.zeros_like(raw[0])
        self.vectors = _unit(raw - self.center)

    @staticmethod
    def _topic_vector(topic: Topic, encoder: Any) -> Array:
        desc: Array = _unit(np.asarray(encoder.encode([topic.description]), dtype=np.float32))[0]
        if not topic.examples:
            return desc
        ex = _unit(np.asarray(encoder.encode(list(topic.examples)), dtype=np.float32))
        return np.asarray(desc + _unit(ex.mean(axis=0)))

    def scores(self, X: Array) -> Array:
        """Cosine similarity of each embedding (rows of ``X``) to each topic, shape (n, n_topics)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        return np.asarray(_unit(X - self.center) @ self.vectors.T)

    def classify(self, X: Array) -> Array:
        """Index of the best topic per row of ``X`` (thresholds ignored)."""
        return np.asarray(self.scores(X).argmax(axis=1))

    def match(self, x: Array) -> tuple[str | None, float]:
        """The topic of one embedding and its score; ``None`` when below that topic's threshold."""
        s = self.scores(x)[0]
        i = int(s.argmax())
        return (self.names[i] if s[i] >= self.thresholds[i] else None), float(s[i])
